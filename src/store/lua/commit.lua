--[[
  commit: writes records, their log entries, the pending-job and lease indexes and timers, all or
  nothing. Checks first (every seq follows the stored one, the consumed timer still has its due
  time), then writes; a failed check writes nothing.

  Keys all derive from the prefix (ARGV[1]): this store targets a standalone Redis.
  ARGV: prefix, now (the store-clock ms its records are stamped with), logLimit, archiveRetentionMs, archiveLimit, historyLimit, consumeKey ('' for
        none), consumeDueAt, recordCount, then per record 12 fields:
          id, seq, kind, json, removed ('1' or ''), parentId (''), queueType ('' when not
          pending), queueGroup, queueRequirementsJson, queueMember, leaseHolder (''),
          eventJson ('' when none: the event that caused the change)
        then setCount, per timer: key, dueAt, json; then clearCount, per timer: key; then the
        writer's id, published on <prefix>:appended when the log grew (hubs read the log when
        another writer appended to it).
  A log entry holds `r` <record json> and, when known, `e` <event json>; a history item is
  "<stream id>\n[E<event json>\n]<record json>" (event JSON has no raw newline; a record starts with '{').
  Returns the log's end before this commit ('' if unknown), then the new stream ids, one per
  record: a hub whose tail has delivered up to that end can deliver its own entries at once.
  The log never goes back in time: a commit stamped before the last one is refused with
  `CLOCK <last ms>` (its hub moves its reading of the clock forward and tries again), so records'
  times are ordered the way the log is, whichever hub wrote them.
]]
local p = ARGV[1]
local now = tonumber(ARGV[2])
-- One more than asked: a resume from the entry just before the last logLimit ones needs that entry (see since.lua).
local logLimit = tonumber(ARGV[3]) + 1
local retention = tonumber(ARGV[4])
local archiveLimit = tonumber(ARGV[5])
local historyLimit = tonumber(ARGV[6])
local consumeKey = ARGV[7]
local consumeDueAt = ARGV[8]
local count = tonumber(ARGV[9])
local FIELDS = 12
local first = 10

-- meta: id -> "seq\nkind\nparent\nremoved\nqueueType\nqueueGroup\nqueueMember\nleaseHolder" (removed is
-- '1' while the actor is archived; the queue fields are '' unless the job is pending, the holder '' unless
-- a worker holds it). Read once per actor, it tells a commit which index entries to replace. Data written
-- before the queue and holder moved into meta has only the first four fields; the `qm` and `leaseof`
-- hashes still hold those, and are emptied as their actors change.
local metaKey = p .. ':meta'

-- Each actor's meta as the commit goes: read once, then kept current record by record.
local metas = {}
local function metaOf(id)
  local meta = metas[id]
  if meta == nil then
    meta = redis.call('HGET', metaKey, id) or false
    metas[id] = meta
  end
  return meta
end

-- Checks.
local seen = {}
for i = 0, count - 1 do
  local at = first + i * FIELDS
  local id = ARGV[at]
  local seq = tonumber(ARGV[at + 1])
  local meta = metaOf(id)
  local previous = seen[id] or (meta and tonumber(string.match(meta, '^(%d+)'))) or 0
  if seq ~= previous + 1 then
    return redis.error_reply('CONFLICT ' .. id .. ': expected seq ' .. (previous + 1) .. ', got ' .. seq)
  end
  seen[id] = seq
end
-- The log's end: "<stream id> <ms of its commit>" ('<id>' alone when written before the clock was kept).
local logEndKey = p .. ':logend'
local endValue = redis.call('GET', logEndKey)
local logEnd, lastAt = '', ''
if endValue then
  logEnd, lastAt = string.match(endValue, '^([^ ]*) ?(%d*)$')
elseif redis.call('EXISTS', p .. ':log') == 0 then
  logEnd = '0-0'
end
if count > 0 and lastAt ~= '' and now < tonumber(lastAt) then
  return redis.error_reply('CLOCK ' .. lastAt)
end
if consumeKey ~= '' then
  local due = redis.call('ZSCORE', p .. ':timers', consumeKey)
  if (not due) or tonumber(due) ~= tonumber(consumeDueAt) then
    return redis.error_reply('CONFLICT TIMER ' .. consumeKey)
  end
end

-- Writes.
-- The log's end is unknown ('') for a log written before its key existed; '0-0' for an empty log.
local offsets = { logEnd }
local anyRemoved = false
for i = 0, count - 1 do
  local at = first + i * FIELDS
  local id, seq, kind, json = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  local removed = ARGV[at + 4] == '1'
  local parent = ARGV[at + 5]
  local queueType, queueGroup, queueRequirements, queueMember = ARGV[at + 6], ARGV[at + 7], ARGV[at + 8], ARGV[at + 9]
  local holder = ARGV[at + 10]
  local event = ARGV[at + 11]

  local meta = metaOf(id)
  local oldParent, wasRemoved, oldType, oldGroup, oldMember, oldHolder = '', false, '', '', '', ''
  if meta then
    local _, _, parentBefore, removedBefore, typeBefore, groupBefore, memberBefore, holderBefore =
      string.match(meta, '^(%d+)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n(.*)$')
    if parentBefore then
      oldType, oldGroup, oldMember, oldHolder = typeBefore, groupBefore, memberBefore, holderBefore
    else
      -- Written before the queue and holder moved into meta.
      _, _, parentBefore, removedBefore = string.match(meta, '^(%d+)\n([^\n]*)\n([^\n]*)\n?(.*)$')
      local queued = redis.call('HGET', p .. ':qm', id)
      if queued then
        oldType, oldGroup, oldMember = string.match(queued, '^([^\n]*)\n([^\n]*)\n(.*)$')
        redis.call('HDEL', p .. ':qm', id)
      end
      oldHolder = redis.call('HGET', p .. ':leaseof', id) or ''
      if oldHolder ~= '' then redis.call('HDEL', p .. ':leaseof', id) end
    end
    oldParent, wasRemoved = parentBefore or '', removedBefore == '1'
  end

  if removed then
    anyRemoved = true
    redis.call('HDEL', p .. ':rec:' .. kind, id)
    redis.call('HSET', p .. ':arc', id, json)
    redis.call('ZADD', p .. ':arcidx', now + retention, id)
  else
    redis.call('HSET', p .. ':rec:' .. kind, id, json)
    if wasRemoved then
      redis.call('ZREM', p .. ':arcidx', id)
      redis.call('HDEL', p .. ':arc', id)
    end
  end

  local newMeta = seq .. '\n' .. kind .. '\n' .. parent .. '\n' .. (removed and '1' or '') .. '\n'
    .. queueType .. '\n' .. queueGroup .. '\n' .. queueMember .. '\n' .. holder
  metas[id] = newMeta
  redis.call('HSET', metaKey, id, newMeta)

  if oldParent ~= '' and (oldParent ~= parent or removed) then
    redis.call('SREM', p .. ':children:' .. oldParent, id)
  end
  if parent ~= '' and not removed then
    redis.call('SADD', p .. ':children:' .. parent, id)
  end

  local moved = oldType ~= queueType or oldGroup ~= queueGroup or oldMember ~= queueMember
  if oldMember ~= '' and moved then
    local queue = p .. ':q:' .. oldType .. ':' .. oldGroup
    redis.call('ZREM', queue, oldMember)
    if redis.call('ZCARD', queue) == 0 then redis.call('HDEL', p .. ':qg:' .. oldType, oldGroup) end
  end
  if queueType ~= '' and moved then
    redis.call('ZADD', p .. ':q:' .. queueType .. ':' .. queueGroup, 0, queueMember)
    redis.call('HSET', p .. ':qg:' .. queueType, queueGroup, queueRequirements)
  end

  if oldHolder ~= holder then
    if oldHolder ~= '' then redis.call('SREM', p .. ':lease:' .. oldHolder, id) end
    if holder ~= '' then redis.call('SADD', p .. ':lease:' .. holder, id) end
  end

  local offset
  if event == '' then
    offset = redis.call('XADD', p .. ':log', 'MAXLEN', '~', logLimit, '*', 'r', json)
  else
    offset = redis.call('XADD', p .. ':log', 'MAXLEN', '~', logLimit, '*', 'r', json, 'e', event)
  end
  offsets[#offsets + 1] = offset
  if historyLimit > 0 then
    -- Trimmed only once it outgrew its bound: most actors never reach it.
    if redis.call('RPUSH', p .. ':hist:' .. id, offset .. '\n' .. (event == '' and '' or ('E' .. event .. '\n')) .. json) > historyLimit then
      redis.call('LTRIM', p .. ':hist:' .. id, -historyLimit, -1)
    end
  end
end

if count > 0 then redis.call('SET', logEndKey, offsets[#offsets] .. ' ' .. ARGV[2]) end

-- Timers: the consumed one, then clears, then sets (a key cleared and set again ends set).
local function clearTimer(key)
  redis.call('ZREM', p .. ':timers', key)
  redis.call('HDEL', p .. ':timer', key)
end
if consumeKey ~= '' then clearTimer(consumeKey) end
local at = first + count * FIELDS
local setCount = tonumber(ARGV[at])
local sets = at + 1
local clearAt = sets + setCount * 3
local clearCount = tonumber(ARGV[clearAt])
for i = 1, clearCount do clearTimer(ARGV[clearAt + i]) end
if count > 0 then redis.call('PUBLISH', p .. ':appended', ARGV[clearAt + clearCount + 1]) end
for i = 0, setCount - 1 do
  local key, dueAt, json = ARGV[sets + i * 3], ARGV[sets + i * 3 + 1], ARGV[sets + i * 3 + 2]
  redis.call('ZADD', p .. ':timers', dueAt, key)
  redis.call('HSET', p .. ':timer', key, json)
end

-- The archive keeps removed records for their retention, and at most archiveLimit of them;
-- swept when something is archived (as the memory store does).
if not anyRemoved then return offsets end
local expired = redis.call('ZRANGEBYSCORE', p .. ':arcidx', '-inf', now, 'LIMIT', 0, 100)
local excess = redis.call('ZCARD', p .. ':arcidx') - #expired - archiveLimit
if excess > 0 then
  for _, id in ipairs(redis.call('ZRANGE', p .. ':arcidx', 0, excess - 1)) do expired[#expired + 1] = id end
end
for _, id in ipairs(expired) do
  redis.call('ZREM', p .. ':arcidx', id)
  redis.call('HDEL', p .. ':arc', id)
  redis.call('HDEL', metaKey, id)
  redis.call('DEL', p .. ':hist:' .. id)
end

return offsets
