--[[
  since: every log entry after an offset, read atomically with the check that none of them was
  trimmed. Trimming takes entries from the head, so they are all held exactly when the entry at
  the offset itself still is (or, for 0-0, when nothing was ever trimmed).
  ARGV: prefix, stream id, limit (the earliest `limit` entries; 0 for all). Returns false when
  they are not all held (or the id is later than the log), else a flat list id, record json,
  event json ('' when none), id, ...
]]
local p = ARGV[1]
local since = ARGV[2]
local limit = tonumber(ARGV[3]) or 0
local key = p .. ':log'

local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function before(a, b)
  local ams, aseq = parse(a)
  local bms, bseq = parse(b)
  return ams < bms or (ams == bms and aseq < bseq)
end

if redis.call('EXISTS', key) == 0 then
  if since == '0-0' then return {} end
  return false
end
local info = redis.call('XINFO', 'STREAM', key)
local fields = {}
for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
if before(fields['last-generated-id'], since) then return false end
if since == '0-0' then
  if tonumber(fields['entries-added']) ~= tonumber(fields['length']) then return false end
elseif #redis.call('XRANGE', key, since, since) == 0 then
  return false
end
local flat = {}
local entries
if limit > 0 then
  entries = redis.call('XRANGE', key, '(' .. since, '+', 'COUNT', limit)
else
  entries = redis.call('XRANGE', key, '(' .. since, '+')
end
for _, entry in ipairs(entries) do
  local fields = entry[2]
  flat[#flat + 1] = entry[1]
  flat[#flat + 1] = fields[2]
  flat[#flat + 1] = (fields[3] == 'e' and fields[4]) or ''
end
return flat
