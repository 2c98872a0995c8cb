--[[
  log-stats: the log's size, read without sending any of its entries (XINFO STREAM's first and
  last entries stay in Redis). ARGV: prefix. Returns { length, entries added since the stream
  began }; the second is -1 where Redis does not count them (before 7.0).
]]
local key = ARGV[1] .. ':log'
if redis.call('EXISTS', key) == 0 then return { 0, 0 } end
local info = redis.call('XINFO', 'STREAM', key)
local length, added = 0, -1
for i = 1, #info, 2 do
  if info[i] == 'length' then length = info[i + 1] end
  if info[i] == 'entries-added' then added = info[i + 1] end
end
return { length, added }
