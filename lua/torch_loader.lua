-- Load a Torch7 file with the user's own Lua Torch, inside lupa's LuaJIT.
--
-- torch.load does the reading (torch7 File.lua at 814ea4a). Before it runs,
-- `prepare` teaches this runtime's Torch three things:
--
-- * GPU classes need no GPU: torch.factory answers for cutorch's torch.Cuda*
--   and cltorch's torch.Cl* tensors and storages with the CPU class of the same
--   element width, whose own read() takes the payload, which cutorch and
--   cltorch write exactly as the CPU class does.
-- * A Lua class this Torch lacks (char-rnn's OneHot, torch-rnn's
--   nn.LanguageModel, anything from a package not installed) is created on
--   the spot, as a child of nn.Module for nn.*, so Torch fills its fields.
-- * File:readObject first peeks at each object's header with Torch's own
--   File methods, then seeks back: it notes the class name and version the
--   file wrote (Torch keeps neither), and it refuses a serialized function
--   before Torch's reader turns the bytecode into a live function, unless
--   the caller allows it.
--
-- `describe` then walks what torch.load returned into flat records shaped
-- like t7reader's, giving each storage's address so Python copies its
-- elements in one go.

local ffi = require("ffi")

local M = {}

-- Type tags, as in torch7 File.lua.
local TYPE_TABLE = 3
local TYPE_TORCH = 4
local TYPE_FUNCTION_LEGACY = 6 -- no index; bytecode, then an upvalues object
local TYPE_FUNCTION_RECUR_LEGACY = 7
local TYPE_FUNCTION = 8

local ELEMENTS = { "Byte", "Char", "Short", "Int", "Long", "Float", "Double",
  "Half" }

-- GPU class -> CPU class of the same element width. cutorch's plain
-- CudaTensor and cltorch's ClTensor hold floats; neither package ever had
-- CudaFloat* or ClFloat* classes. The same names t7reader.lua accepts.
local CPU_CLASS = {}
for _, elem in ipairs(ELEMENTS) do
  if elem ~= "Float" then
    for _, gpu in ipairs({ "Cuda", "Cl" }) do
      CPU_CLASS["torch." .. gpu .. elem .. "Tensor"] = "torch." .. elem .. "Tensor"
      CPU_CLASS["torch." .. gpu .. elem .. "Storage"] = "torch." .. elem .. "Storage"
    end
  end
end
for _, gpu in ipairs({ "Cuda", "Cl" }) do
  CPU_CLASS["torch." .. gpu .. "Tensor"] = "torch.FloatTensor"
  CPU_CLASS["torch." .. gpu .. "Storage"] = "torch.FloatStorage"
end

-- Packages that would reach for a GPU. Nothing here needs them, and a require
-- from an installed package must fail cleanly rather than start a device.
local GPU_PACKAGES = { "cutorch", "cunn", "cudnn", "cltorch", "clnn" }

-- An error of ours travels as a table so Python gets its parts separately.
local Failure = {}
Failure.__index = Failure

local function fail(offset, message, code)
  error(setmetatable({ offset = offset, message = message, code = code },
    Failure), 0)
end

-- What the load in progress has learnt; nil between loads.
local state = nil
-- Classes this runtime created because Torch lacked them.
local created = {}

local function is_class_name(name)
  for part in (name .. "."):gmatch("([^.]*)%.") do
    if not part:match("^[%a_][%w_]*$") then
      return false
    end
  end
  return true
end

local function create_class(name)
  if not is_class_name(name) then
    fail(state and state.at, string.format(
      "class name %q is not a Lua class name", name))
  end
  -- Torch keeps classes in the Lua registry by name. A name already there is
  -- a class Torch cannot read from a file (torch.DiskFile) or one of Lua's
  -- own entries (_LOADED): neither may be turned into a class.
  if debug.getregistry()[name] ~= nil then
    fail(state and state.at, string.format(
      "class name %q is taken in Lua's registry by something Torch cannot "
      .. "read from a file", name))
  end
  local parent = nil
  if name:match("^nn%.") and package.loaded.nn then
    parent = "nn.Module"
  end
  local function factory()
    local object = {}
    torch.setmetatable(object, name)
    return object
  end
  -- A throwaway module table keeps the class out of the global namespace.
  torch.newmetatable(name, parent, nil, nil, factory, {})
  created[#created + 1] = name
end

-- Load torch, nn and nngraph from package.path/cpath (set by Python) and
-- install the hooks described above. Returns which optional packages loaded.
function M.prepare()
  for _, name in ipairs(GPU_PACKAGES) do
    package.preload[name] = function()
      error(name .. " is not loaded: rjs-bridge reads GPU tensors as CPU "
        .. "tensors", 0)
    end
  end

  require("torch")
  local loaded = {}
  for _, name in ipairs({ "nn", "nngraph" }) do
    local ok, err = pcall(require, name)
    loaded[name] = ok
    if not ok then
      loaded[name .. "_error"] = tostring(err)
    end
  end

  local torch_factory = torch.factory
  torch.factory = function(name)
    local cpu = CPU_CLASS[name]
    if cpu ~= nil then
      return torch_factory(cpu)
    end
    local factory = torch_factory(name)
    if factory == nil and state ~= nil and type(name) == "string" then
      create_class(name)
      factory = torch_factory(name)
    end
    return factory
  end

  local File = torch.getmetatable("torch.File")
  local torch_read_object = File.readObject

  local function peek(file, at)
    local tag = file:readInt()
    local header = { tag = tag, at = at }
    local is_function = tag == TYPE_FUNCTION_LEGACY
      or tag == TYPE_FUNCTION_RECUR_LEGACY or tag == TYPE_FUNCTION
    if tag == TYPE_TABLE or tag == TYPE_TORCH
        or tag == TYPE_FUNCTION_RECUR_LEGACY or tag == TYPE_FUNCTION then
      header.index = file:readInt()
      if state.seen[header.index] then
        return nil
      end
      state.seen[header.index] = true
    end

    if is_function then
      if not state.allow_functions then
        fail(at, "the file holds a serialized Lua function here, which "
          .. "Torch's reader would load as code", "function")
      end
      header.bytecode = file:readChar(file:readInt()):string()
      -- Torch reads the upvalues next, as an object of their own.
      state.upvalues_of[file:position()] = header
    elseif tag == TYPE_TORCH then
      -- "V <n>" then the class name; older files have the class name only.
      -- Same test as File.lua's.
      local first = file:readChar(file:readInt()):string()
      local version = tonumber(first:match("^V (.*)$"))
      if version == nil then
        header.version = 0
        header.class = first
      else
        header.version = version
        header.class = file:readChar(file:readInt()):string()
      end
    end
    return header
  end

  File.readObject = function(file)
    if state == nil then
      return torch_read_object(file)
    end

    -- Torch's File positions count from 1; byte offsets for Python from 0.
    local position = file:position()
    local at = position - 1
    local outer = state.at
    state.at = at
    local header = peek(file, at)
    file:seek(position)
    local owner = state.upvalues_of[position]
    state.upvalues_of[position] = nil

    local object = torch_read_object(file)

    state.at = outer
    if owner ~= nil then
      owner.upvalues = object
    end
    if header ~= nil and object ~= nil then
      if torch.isStorage(object) then
        state.storage_headers[torch.pointer(object)] = header
      else
        state.headers[object] = header
      end
    end
    return object
  end

  return loaded
end

-- Read `path` with torch.load in `mode` ("b64", "b32" or "ascii").
function M.load(path, mode, allow_functions)
  state = {
    allow_functions = allow_functions,
    seen = {},
    headers = {},
    storage_headers = {},
    upvalues_of = {},
    at = nil,
  }
  local ok, result = pcall(torch.load, path, mode)
  local learnt = state
  state = nil
  if not ok then
    if getmetatable(result) == Failure then
      return { ok = false, offset = result.offset, message = result.message,
        code = result.code }
    end
    return { ok = false, offset = learnt.at, message = tostring(result) }
  end
  ok, result = pcall(M.describe, result, learnt)
  if not ok then
    if getmetatable(result) == Failure then
      return { ok = false, message = result.message }
    end
    error(result, 0)
  end
  result.created = created
  return result
end

local function class_of(value, header)
  if header ~= nil and header.class ~= nil then
    return header.class
  end
  return torch.typename(value)
end

-- Records shaped like t7reader's: one per table, Torch object, tensor,
-- storage and function, in a heap; composites travel as {slot}.
function M.describe(root, learnt)
  local heap = {}
  local slot_of = {}
  local storage_slot = {}
  local refs = {}
  local queue = {}

  -- A record whose contents are still to be described joins the queue.
  local function new_record(record, pending)
    heap[#heap + 1] = record
    if pending then
      queue[#queue + 1] = #heap
    end
    return #heap
  end

  local function ref(slot)
    local r = refs[slot]
    if r == nil then
      r = { slot }
      refs[slot] = r
    end
    return r
  end

  local value

  local function storage_record(storage)
    local pointer = torch.pointer(storage)
    local slot = storage_slot[pointer]
    if slot ~= nil then
      return slot
    end
    local class = class_of(storage, learnt.storage_headers[pointer])
    local cpu = torch.typename(storage)
    local count = storage:size()
    local address = 0
    if count > 0 then
      address = tonumber(ffi.cast("intptr_t", storage:data()))
    end
    slot = new_record({
      kind = "storage",
      class = class,
      elem = cpu:match("^torch%.(%a+)Storage$"),
      element_size = storage:elementSize(),
      count = count,
      address = address,
    })
    storage_slot[pointer] = slot
    return slot
  end

  local function tensor_record(tensor)
    local header = learnt.headers[tensor]
    local ndim = tensor:nDimension()
    local size, stride = {}, {}
    for i = 1, ndim do
      size[i] = tensor:size(i)
      stride[i] = tensor:stride(i)
    end
    local record = {
      kind = "tensor",
      class = class_of(tensor, header),
      elem = torch.typename(tensor):match("^torch%.(%a+)Tensor$"),
      size = size,
      stride = stride,
      ndim = ndim,
      offset = tensor:storageOffset(),
    }
    local storage = tensor:storage()
    if storage ~= nil then
      record.storage = ref(storage_record(storage))
    end
    return new_record(record)
  end

  value = function(v)
    local kind = type(v)
    if kind == "nil" or kind == "number" or kind == "string"
        or kind == "boolean" then
      return v
    end
    local slot = slot_of[v]
    if slot ~= nil then
      return ref(slot)
    end

    if kind == "table" then
      local class = torch.typename(v)
      if class == nil then
        slot = new_record({ kind = "table", source = v }, true)
      else
        local header = learnt.headers[v]
        local mt = getmetatable(v)
        slot = new_record({
          kind = "object",
          class = class_of(v, header),
          version = header and header.version or (mt and mt.__version) or 1,
          source = v,
        }, true)
      end
    elseif kind == "userdata" and torch.isTensor(v) then
      slot = tensor_record(v)
    elseif kind == "userdata" and torch.isStorage(v) then
      slot = storage_record(v)
    elseif kind == "function" then
      local header = learnt.headers[v]
      slot = new_record({
        kind = "function",
        tag = header and header.tag or TYPE_FUNCTION,
        at = header and header.at or -1,
        bytecode = header and header.bytecode or string.dump(v),
        source_upvalues = header and header.upvalues,
      }, true)
    else
      fail(nil, string.format("Torch returned a %s, which has no Python form",
        torch.typename(v) or kind))
    end
    slot_of[v] = slot
    return ref(slot)
  end

  local function entries(source)
    local keys, values, n = {}, {}, 0
    for k, v in next, source do
      n = n + 1
      keys[n] = value(k)
      values[n] = value(v)
    end
    return keys, values, n
  end

  local described_root = value(root)
  -- Breadth first, so deep graphs need no deep Lua stack.
  local i = 1
  while i <= #queue do
    local record = heap[queue[i]]
    i = i + 1
    if record.kind == "table" then
      record.keys, record.values, record.n = entries(record.source)
      record.source = nil
    elseif record.kind == "object" then
      local fields = { kind = "table" }
      fields.keys, fields.values, fields.n = entries(record.source)
      record.fields = ref(new_record(fields))
      record.source = nil
    elseif record.kind == "function" then
      record.upvalues = value(record.source_upvalues)
      record.source_upvalues = nil
    end
  end

  return { ok = true, root = described_root, heap = heap, n = #heap }
end

return M
