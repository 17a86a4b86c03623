--- Random hex digits for client nonces and markers: from /dev/urandom, else from math.random.
local random = {}

--- `n` lowercase hex digits.
function random.hex(n)
  local size = math.ceil(n / 2)
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(size)
  if f then f:close() end
  if not bytes or #bytes < size then
    local t = {}
    for i = 1, size do t[i] = string.char(math.random(0, 255)) end
    bytes = table.concat(t)
  end
  return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end)):sub(1, n)
end

return random
