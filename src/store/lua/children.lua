--[[
  children: the live records whose parent is ARGV[2]. ARGV: prefix, parentId.
]]
local p = ARGV[1]
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', p .. ':children:' .. ARGV[2])) do
  local meta = redis.call('HGET', p .. ':meta', id)
  if meta then
    local kind = string.match(meta, '^%d+\n([^\n]*)\n')
    local record = redis.call('HGET', p .. ':rec:' .. kind, id)
    if record then out[#out + 1] = record end
  end
end
return out
