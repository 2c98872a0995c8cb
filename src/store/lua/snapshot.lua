--[[
  snapshot: every live record of the given kinds and the id of the last log entry, read as one
  consistent cut. ARGV: prefix, kinds... Returns { lastId, id, json, id, json, ... }.
]]
local p = ARGV[1]
local last = '0-0'
if redis.call('EXISTS', p .. ':log') == 1 then
  local info = redis.call('XINFO', 'STREAM', p .. ':log')
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then last = info[i + 1] end
  end
end
local out = { last }
for i = 2, #ARGV do
  -- With the ids: a record that cannot be read is reported by id, not left out unnamed.
  for _, item in ipairs(redis.call('HGETALL', p .. ':rec:' .. ARGV[i])) do out[#out + 1] = item end
end
return out
