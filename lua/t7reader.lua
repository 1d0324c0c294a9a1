-- Reader of Torch7's serialization format, run inside lupa's LuaJIT.
--
-- It follows torch7's File:readObject (File.lua at 814ea4a) but never builds
-- live Torch objects: each table, Torch object and function becomes a plain
-- record in `heap`, and storage payloads are skipped after noting where their
-- bytes lie, so Python can map them straight into NumPy. Serialized functions
-- are kept as the offset and length of their bytecode; nothing from the file
-- is ever loaded as code.
--
-- The file's bytes are read in place through a LuaJIT FFI pointer handed over
-- by Python, which keeps them alive for the duration of the call.
--
-- Files saved with torch.save(f, obj, 'ascii') are read by a second set of
-- primitive reads (THDiskFile.c's ASCII mode: decimal numbers, each write
-- call ending in a newline; strings as a length line, the raw bytes, a
-- newline). A numeric storage's elements are one line of text: Lua notes
-- where it lies and Python parses it in one call.

local bit = require("bit")
local ffi = require("ffi")

local M = {}

-- Type tags, as in torch7 File.lua.
local TYPE_NIL = 0
local TYPE_NUMBER = 1
local TYPE_STRING = 2
local TYPE_TABLE = 3
local TYPE_TORCH = 4
local TYPE_BOOLEAN = 5
local TYPE_FUNCTION_LEGACY = 6 -- no index; bytecode, then an upvalues object
local TYPE_FUNCTION_RECUR_LEGACY = 7 -- index; bytecode, then a list of upvalues
local TYPE_FUNCTION = 8 -- index; bytecode, then {name, value} upvalue records

-- Objects nested deeper than this are refused. The reader recurses, and
-- LuaJIT's stack holds about 2,800 levels of tables; char-rnn and torch-rnn
-- checkpoints nest fewer than 150 deep.
local MAX_DEPTH = 2000
-- numpy's limit on the number of dimensions.
local MAX_DIMS = 64
-- Sizes, strides, offsets and element counts beyond 2^53 are refused: no
-- file holds that many elements, and Lua numbers (doubles) stop being exact
-- integers there.
local MAX_LONG = 2 ^ 53
-- A tensor view may repeat its storage's elements (a stride of 0, as
-- Torch's expand makes), so its element count is checked on its own: its
-- bytes may not pass 2^53 either.
local MAX_VIEW_BYTES = 2 ^ 53
-- Torch class names are Lua names joined by dots (nn.Linear); longer ones
-- than this are refused.
local MAX_CLASS_NAME = 256
-- How many steps of a deep object path an error message spells out at each
-- end.
local PATH_ENDS = 12

-- Element width in bytes of each storage kind; "Long" follows the file.
local ELEMENT_SIZE = {
  Byte = 1, Char = 1, Short = 2, Int = 4, Float = 4, Double = 8, Half = 2,
}

-- Class name -> element type for every tensor and storage class we read:
-- CPU classes, cutorch's torch.Cuda* and cltorch's torch.Cl*. cutorch's plain
-- CudaTensor and cltorch's ClTensor hold floats.
local TENSOR_TYPE, STORAGE_TYPE = {}, {}
for elem, _ in pairs(ELEMENT_SIZE) do
  TENSOR_TYPE["torch." .. elem .. "Tensor"] = elem
  STORAGE_TYPE["torch." .. elem .. "Storage"] = elem
  TENSOR_TYPE["torch.Cuda" .. elem .. "Tensor"] = elem
  STORAGE_TYPE["torch.Cuda" .. elem .. "Storage"] = elem
  TENSOR_TYPE["torch.Cl" .. elem .. "Tensor"] = elem
  STORAGE_TYPE["torch.Cl" .. elem .. "Storage"] = elem
end
for _, prefix in ipairs({ "torch.", "torch.Cuda", "torch.Cl" }) do
  TENSOR_TYPE[prefix .. "LongTensor"] = "Long"
  STORAGE_TYPE[prefix .. "LongStorage"] = "Long"
end
TENSOR_TYPE["torch.CudaTensor"] = "Float"
STORAGE_TYPE["torch.CudaStorage"] = "Float"
TENSOR_TYPE["torch.ClTensor"] = "Float"
STORAGE_TYPE["torch.ClStorage"] = "Float"
TENSOR_TYPE["torch.CudaFloatTensor"] = nil -- cutorch never had these names
STORAGE_TYPE["torch.CudaFloatStorage"] = nil
TENSOR_TYPE["torch.ClFloatTensor"] = nil
STORAGE_TYPE["torch.ClFloatStorage"] = nil

M.TENSOR_TYPE = TENSOR_TYPE
M.STORAGE_TYPE = STORAGE_TYPE

-- memchr finds the end of an ASCII storage's line without a Lua loop.
pcall(ffi.cdef, "void *memchr(const void *s, int c, size_t n);")

local int32_ptr = ffi.typeof("const int32_t *")
local uint32_ptr = ffi.typeof("const uint32_t *")
local int64_ptr = ffi.typeof("const int64_t *")
local double_ptr = ffi.typeof("const double *")

-- A read error travels as a table so Python gets its parts separately.
local FormatError = {}
FormatError.__index = FormatError

-- A string from the file as an error message shows it: quoted, bytes outside
-- printable ASCII as \xHH, and cut short when long.
local function show(s, limit)
  limit = limit or 60
  local cut = #s > limit
  local text = s:sub(1, limit):gsub('[%c"\\\128-\255]', function(c)
    return string.format("\\x%02x", c:byte())
  end)
  if cut then
    return string.format('"%s"... (%d bytes)', text, #s)
  end
  return '"' .. text .. '"'
end

-- Whether a string is a Torch class name: Lua names joined by dots.
local function is_class_name(s)
  if #s == 0 or #s > MAX_CLASS_NAME then
    return false
  end
  for part in (s .. "."):gmatch("([^.]*)%.") do
    if not part:match("^[%a_][%w_]*$") then
      return false
    end
  end
  return true
end

local function describe_key(key)
  if type(key) == "string" then
    if key:match("^[%a_][%w_]*$") and #key <= 60 then
      return "." .. key
    end
    return "[" .. show(key, 40) .. "]"
  end
  if type(key) == "number" then
    if key == math.floor(key) and math.abs(key) < 2 ^ 53 then
      return string.format("[%d]", key)
    end
    return "[" .. tostring(key) .. "]"
  end
  return "[<" .. type(key) .. ">]"
end

-- Frees what earlier readings left, before the next one. JIT traces hold
-- the closures of the reading they were recorded in, and through them its
-- records, so they go first.
function M.collect()
  jit.flush()
  collectgarbage("collect")
end

-- `ascii` is true for files in Torch's ASCII format; `long_size` then
-- does not matter.
function M.read(address, size, long_size, ascii)
  -- Collect garbage before the heap doubles (Lua's default waits till it
  -- has): with many small objects it halves the reader's peak memory.
  collectgarbage("setpause", 100)
  local base = ffi.cast("const uint8_t *", address)
  local pos = 0
  local heap = {}
  local by_index = {}
  local indexed = 0
  local path = {}
  local depth = 0
  local longs_read = 0

  local function path_string()
    local parts = { "<root>" }
    local n = #path
    for i = 1, n do
      if n > 2 * PATH_ENDS and i == PATH_ENDS + 1 then
        parts[#parts + 1] = string.format("...(%d steps)...", n - 2 * PATH_ENDS)
      end
      if n <= 2 * PATH_ENDS or i <= PATH_ENDS or i > n - PATH_ENDS then
        parts[#parts + 1] = path[i]
      end
    end
    return table.concat(parts)
  end

  -- `short` marks a failure for want of bytes: what a file cut short gives.
  local function fail(offset, message, short)
    error(setmetatable({
      offset = offset,
      path = path_string(),
      message = message,
      short = short or false,
    }, FormatError), 0)
  end

  -- Every read checks first that the bytes exist.
  local function need(n, what)
    if n < 0 or pos + n > size then
      fail(pos, string.format(
        "file ends at byte %d while reading %s (%d bytes needed at offset %d)",
        size, what, n, pos), n >= 0)
    end
  end

  local function read_int(what)
    need(4, what)
    local v = ffi.cast(int32_ptr, base + pos)[0]
    pos = pos + 4
    return v
  end

  local function read_long(what)
    need(long_size, what)
    local v
    if long_size == 8 then
      local exact = ffi.cast(int64_ptr, base + pos)[0]
      if exact > MAX_LONG or exact < -MAX_LONG then
        fail(pos, string.format(
          "%s %s is beyond 2^53, more than any file holds", what,
          (tostring(exact):gsub("LL$", ""))))
      end
      v = tonumber(exact)
    else
      v = ffi.cast(int32_ptr, base + pos)[0]
    end
    pos = pos + long_size
    longs_read = longs_read + 1
    return v
  end

  local function read_double(what)
    need(8, what)
    local v = ffi.cast(double_ptr, base + pos)[0]
    -- LuaJIT keeps other values' type tags in NaN bit patterns and does not
    -- tidy a NaN read through the FFI: a file's NaN could pass for a table
    -- or a string. Any NaN becomes the one Lua arithmetic makes.
    local high = ffi.cast(uint32_ptr, base + pos + 4)[0]
    local low = ffi.cast(uint32_ptr, base + pos)[0]
    if bit.band(high, 0x7ff00000) == 0x7ff00000
      and (bit.band(high, 0x000fffff) ~= 0 or low ~= 0) then
      v = 0 / 0
    end
    pos = pos + 8
    return v
  end

  -- In ASCII files, raw bytes (a string, bytecode, Byte or Char data) are
  -- followed by a newline when there are any.
  local function end_raw(n)
    if n > 0 and pos < size and base[pos] == 10 then
      pos = pos + 1
    end
  end

  local function read_string(what)
    local at = pos
    local n = read_int(what .. " length")
    if n < 0 then
      fail(at, string.format("%s has negative length %d", what, n))
    end
    need(n, what)
    local s = ffi.string(base + pos, n)
    pos = pos + n
    if ascii then
      end_raw(n)
    end
    return s
  end

  if ascii then
    -- fscanf skips C's white space before a number; the newline ending a
    -- write call is consumed after its last element.
    local function is_space(c)
      return c == 32 or (c >= 9 and c <= 13)
    end

    local function read_token(what)
      while pos < size and is_space(base[pos]) do
        pos = pos + 1
      end
      local at = pos
      while pos < size and not is_space(base[pos]) do
        pos = pos + 1
      end
      if pos == at then
        fail(at, string.format("file ends at byte %d while reading %s", size, what))
      end
      local token = ffi.string(base + at, math.min(pos - at, 64))
      if pos < size and base[pos] == 10 then
        pos = pos + 1
      end
      return token, at
    end

    local function read_integer(what, low, high)
      local token, at = read_token(what)
      local digits = token:match("^[+-]?0*(%d+)$")
      if not digits then
        fail(at, string.format(
          "expected a decimal integer for %s, found %s", what, show(token)))
      end
      -- Past 2^53 tonumber rounds, so the digits are compared first (as
      -- text, which orders numbers of as many digits).
      local v = nil
      if #digits < 16 or (#digits == 16 and digits <= "9007199254740992") then
        v = tonumber(token)
      end
      if v == nil or v < low or v > high then
        fail(at, string.format(
          "%s %s is out of range (%.0f to %.0f)", what, token, low, high))
      end
      return v
    end

    read_int = function(what)
      return read_integer(what, -2 ^ 31, 2 ^ 31 - 1)
    end

    read_long = function(what)
      longs_read = longs_read + 1
      return read_integer(what, -MAX_LONG, MAX_LONG)
    end

    -- "%.17g" text; LuaJIT's tonumber rounds correctly and knows inf, nan.
    read_double = function(what)
      local token, at = read_token(what)
      local v = tonumber(token)
      if v == nil then
        fail(at, string.format(
          "expected a number for %s, found %s", what, show(token)))
      end
      return v
    end
  end

  -- A composite value travels to Python as its record, a Lua table, which
  -- Python tells from a number or a string; records hold only what Python
  -- reads, as a file of many small objects makes many records.
  local function new_record(record, index)
    heap[#heap + 1] = record
    record.slot = #heap
    if index ~= nil then
      indexed = indexed + 1
      by_index[indexed] = record
    end
    return record
  end

  -- Torch's writer numbers tables, objects and functions 1, 2, 3, ... in
  -- the order it first writes them (File.lua's nWriteObject), so an index is
  -- either one already read or the next one. Holding to that also keeps
  -- `by_index` a plain array, which no choice of indices can slow down.
  local function read_index(what)
    local at = pos
    local index = read_int(what)
    if index < 1 or index > indexed + 1 then
      fail(at, string.format(
        "%s %d is neither a new object's (%d) nor an earlier one's (1 to %d)",
        what, index, indexed + 1, indexed))
    end
    return index
  end

  -- Entry lists of tables without entries, shared.
  local NO_ENTRIES = {}

  local read_object

  local function read_ascii_storage(record, elem, count)
    record.kind = "storage"
    record.elem = elem
    record.count = count
    if elem == "Byte" or elem == "Char" then
      need(count, record.class .. " elements")
      record.data_offset = pos
      pos = pos + count
      end_raw(count)
      return
    end

    -- Torch writes the elements on one line; Python parses them.
    record.text_offset = pos
    record.text_length = 0
    record.path = path_string()
    if count == 0 then
      return
    end
    local newline = ffi.C.memchr(base + pos, 10, size - pos)
    if newline == nil then
      fail(pos, string.format(
        "file ends at byte %d inside the line of %s's %d elements",
        size, record.class, count), true)
    end
    local stop = tonumber(ffi.cast("const uint8_t *", newline) - base)
    record.text_length = stop - pos
    pos = stop + 1
  end

  local function read_storage(record, elem)
    local at = pos
    local count = read_long("storage element count")
    local width = elem == "Long" and long_size or ELEMENT_SIZE[elem]
    if count < 0 then
      fail(at, string.format("%s claims %.0f elements", record.class, count))
    end
    if ascii then
      read_ascii_storage(record, elem, count)
      return
    end
    if count * width > size - pos then
      fail(at, string.format(
        "%s claims %.0f elements (%.0f bytes) but only %d bytes follow",
        record.class, count, count * width, size - pos), true)
    end
    record.kind = "storage"
    record.elem = elem
    record.count = count
    record.data_offset = pos
    pos = pos + count * width
  end

  local function read_tensor(record, elem)
    local at = pos
    local ndim = read_int("tensor dimension count")
    if ndim < 0 or ndim > MAX_DIMS then
      fail(at, string.format(
        "%s has %d dimensions, expected 0 to %d", record.class, ndim, MAX_DIMS))
    end
    local sizes, strides = {}, {}
    for i = 1, ndim do
      local where = pos
      sizes[i] = read_long("tensor size")
      if sizes[i] < 0 then
        fail(where, string.format(
          "%s has size %.0f in dimension %d", record.class, sizes[i], i))
      end
    end
    for i = 1, ndim do
      local where = pos
      strides[i] = read_long("tensor stride")
      if strides[i] < 0 then
        fail(where, string.format(
          "%s has stride %.0f in dimension %d", record.class, strides[i], i))
      end
    end
    local offset_at = pos
    local offset = read_long("tensor storage offset")

    -- A Torch7 tensor with no dimensions holds no elements. NumPy refuses a
    -- shape whose nonzero sizes multiply past its limit even when another
    -- size is 0, so `span` leaves zeros out. The products are doubles: past
    -- 2^53 they round, but never back below the limit.
    local numel, span = ndim > 0 and 1 or 0, 1
    for i = 1, ndim do
      numel = numel * sizes[i]
      span = span * math.max(sizes[i], 1)
    end
    local width = elem == "Long" and long_size or ELEMENT_SIZE[elem]
    if span * width > MAX_VIEW_BYTES then
      fail(at, string.format(
        "%s has sizes {%s}, more elements than any machine holds",
        record.class, table.concat(sizes, ",")))
    end

    path[#path + 1] = ".<storage>"
    local storage_at = pos
    local storage = read_object()
    path[#path] = nil

    record.kind = "tensor"
    record.elem = elem
    record.size = sizes
    record.stride = strides
    record.offset = offset
    if storage == nil then
      -- Torch would allocate the elements; we refuse to.
      if numel > 0 then
        fail(storage_at, string.format(
          "%s has sizes {%s} (%.0f elements) but no storage",
          record.class, table.concat(sizes, ","), numel))
      end
      return
    end

    local srec = type(storage) == "table" and storage or nil
    if srec == nil or srec.kind ~= "storage" then
      fail(storage_at, string.format(
        "%s is backed by a %s, expected a storage",
        record.class, srec and (srec.class or srec.kind) or type(storage)))
    end
    if srec.elem ~= elem then
      fail(storage_at, string.format(
        "%s is backed by a %s, expected %s elements",
        record.class, srec.class, elem))
    end
    record.storage = storage

    -- The view must lie inside its storage: Torch offsets are 1-based. The
    -- sum is a double too; rounding cannot take a true value at or past the
    -- storage's (exact) element count below it.
    local last = offset - 1
    for i = 1, ndim do
      last = last + (sizes[i] - 1) * strides[i]
    end
    if numel > 0 and (offset < 1 or last >= srec.count) then
      fail(offset_at, string.format(
        "%s view (offset %.0f, sizes {%s}, strides {%s}) runs outside its "
        .. "storage of %.0f elements",
        record.class, offset, table.concat(sizes, ","),
        table.concat(strides, ","), srec.count))
    end
  end

  local function read_torch()
    local index = read_index("object index")
    local seen = by_index[index]
    if seen ~= nil then
      return seen
    end

    -- "V <n>" then the class name; older files have the class name only.
    local version_at = pos
    local first = read_string("version string")
    local record = {}
    local version = first:match("^V (%d+)$")
    local class_at = version_at
    if version ~= nil then
      record.version = tonumber(version)
      if record.version > 2 ^ 31 - 1 then
        fail(version_at, string.format(
          "version string %s holds no plausible version", show(first)))
      end
      class_at = pos
      record.class = read_string("class name")
    elseif first:match("^V ") then
      fail(version_at, string.format(
        "malformed version string %s, expected \"V <number>\"", show(first)))
    else
      record.version = 0
      record.class = first
    end
    if not is_class_name(record.class) then
      fail(class_at, string.format(
        "class name %s is not a class name: expected Lua names joined by "
        .. "dots, such as nn.Linear", show(record.class)))
    end
    new_record(record, index)

    local elem = TENSOR_TYPE[record.class]
    if elem ~= nil then
      read_tensor(record, elem)
      return record
    end
    elem = STORAGE_TYPE[record.class]
    if elem ~= nil then
      read_storage(record, elem)
      return record
    end

    -- Any other class is a Lua class: its fields come as one table.
    record.kind = "object"
    local fields_at = pos
    local fields = read_object()
    if fields ~= nil then
      local frec = type(fields) == "table" and fields or nil
      if frec == nil or frec.kind ~= "table" then
        fail(fields_at, string.format(
          "%s fields are a %s, expected a table", record.class,
          frec and (frec.class or frec.kind) or type(fields)))
      end
    end
    record.fields = fields
    return record
  end

  local function read_table()
    local index = read_index("table index")
    local seen = by_index[index]
    if seen ~= nil then
      return seen
    end

    local count_at = pos
    local n = read_int("table size")
    -- Each entry takes at least two 4-byte tags (in ASCII, a key of two
    -- 2-byte lines and a nil value's line).
    local entry_min = ascii and 6 or 8
    if n < 0 or n * entry_min > size - pos then
      fail(count_at, string.format(
        "table claims %d entries but only %d bytes follow", n, size - pos),
        n >= 0)
    end
    local keys, values = NO_ENTRIES, NO_ENTRIES
    if n > 0 then
      keys, values = {}, {}
    end
    local record = new_record({ kind = "table", keys = keys, values = values },
      index)

    local m = 0
    for _ = 1, n do
      local key_at = pos
      path[#path + 1] = "[<key>]"
      local key = read_object()
      if key == nil then
        fail(key_at, "table key is nil")
      elseif key ~= key then
        fail(key_at, "table key is NaN")
      end
      path[#path] = type(key) == "table" and "[<object>]" or describe_key(key)
      local value = read_object()
      path[#path] = nil
      -- Lua drops entries whose value is nil.
      if value ~= nil then
        m = m + 1
        keys[m] = key
        values[m] = value
      end
    end
    return record
  end

  local function read_function(tag, at)
    local index
    if tag ~= TYPE_FUNCTION_LEGACY then
      index = read_index("function index")
      local seen = by_index[index]
      if seen ~= nil then
        return seen
      end
    end

    local length_at = pos
    local n = read_int("function bytecode length")
    if n < 0 then
      fail(length_at, string.format("function bytecode has length %d", n))
    end
    need(n, "function bytecode")
    local record = new_record({ kind = "function", tag = tag, at = at,
      bytecode_offset = pos, bytecode_length = n }, index)
    pos = pos + n
    if ascii then
      end_raw(n)
    end

    path[#path + 1] = ".<upvalues>"
    record.upvalues = read_object()
    path[#path] = nil
    return record
  end

  read_object = function()
    local at = pos
    local tag = read_int("type tag")
    if tag == TYPE_NIL then
      return nil
    elseif tag == TYPE_NUMBER then
      return read_double("number")
    elseif tag == TYPE_STRING then
      return read_string("string")
    elseif tag == TYPE_BOOLEAN then
      local v = read_int("boolean")
      return v == 1
    end

    if tag < TYPE_TABLE or tag > TYPE_FUNCTION then
      fail(at, string.format(
        "unknown type tag %d, expected 0 to 8", tag))
    end
    depth = depth + 1
    if depth > MAX_DEPTH then
      fail(at, string.format(
        "objects nested more than %d deep", MAX_DEPTH))
    end
    local value
    if tag == TYPE_TABLE then
      value = read_table()
    elseif tag == TYPE_TORCH then
      value = read_torch()
    else
      value = read_function(tag, at)
    end
    depth = depth - 1
    return value
  end

  local ok, root = pcall(read_object)
  if not ok then
    if getmetatable(root) == FormatError then
      return { ok = false, offset = root.offset, path = root.path,
        message = root.message, short = root.short, longs_read = longs_read }
    end
    local message = tostring(root)
    if message:find("stack overflow", 1, true) then
      return { ok = false, offset = pos, path = path_string(),
        message = "objects nested too deep to read", longs_read = longs_read }
    end
    if message:find("not enough memory", 1, true) then
      return { ok = false, offset = pos, path = path_string(),
        message = "the file holds more objects than memory allows",
        longs_read = longs_read }
    end
    error(root, 0)
  end
  return { ok = true, root = root, heap = heap, n = #heap, end_offset = pos,
    longs_read = longs_read }
end

return M
