--[[
  get: records by id, live or archived (within retention). ARGV: prefix, now, ids...
  Returns one JSON string (or false) per id.
]]
local p = ARGV[1]
local now = tonumber(ARGV[2])
local found = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local record = false
  local meta = redis.call('HGET', p .. ':meta', id)
  if meta then
    local kind = string.match(meta, '^%d+\n([^\n]*)\n')
    record = redis.call('HGET', p .. ':rec:' .. kind, id)
    if not record then
      local expires = redis.call('ZSCORE', p .. ':arcidx', id)
      if expires and tonumber(expires) > now then record = redis.call('HGET', p .. ':arc', id) end
    end
  end
  found[#found + 1] = record
end
return found
