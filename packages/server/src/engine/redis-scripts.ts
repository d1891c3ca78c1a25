// The Lua scripts of the Redis engine: each runs atomically in Redis, so per-channel state never tears.

/**
 * Shared Lua helpers, prepended to the scripts that touch a channel's stream.
 * Stream entry ids are `<offset>-0`, so ranges by offset are plain XRANGE calls; each entry holds
 * `t` (Redis time in ms, for age trimming) and `m` (the publication's JSON).
 */
const STREAM_HELPERS = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function fmt(n)
  return string.format('%d', n)
end

local function offset_of(id)
  return tonumber(string.match(id, '^(%d+)'))
end

-- The epoch is created once; a new epoch starts a new stream, so leftovers of an older one go.
local function ensure_epoch(meta, stream, removals, new_epoch, retention_ms)
  local stored = redis.call('HMGET', meta, 'epoch', 'offset')
  if stored[1] then return stored[1], tonumber(stored[2] or '0') end
  redis.call('DEL', stream, removals)
  redis.call('HSET', meta, 'epoch', new_epoch, 'offset', 0)
  redis.call('PEXPIRE', meta, retention_ms)
  return new_epoch, 0
end

-- Remembers why the oldest publications up to 'up_to' left history ('t' trimmed, 'e' expired).
local function record_removal(removals, reason, up_to, retention_ms)
  local last = redis.call('LINDEX', removals, -1)
  if last and string.sub(last, 1, 1) == reason then
    redis.call('LSET', removals, -1, reason .. ':' .. fmt(up_to))
  else
    redis.call('RPUSH', removals, reason .. ':' .. fmt(up_to))
    redis.call('LTRIM', removals, -16, -1)
  end
  redis.call('PEXPIRE', removals, retention_ms)
end

-- Drops entries older than the history TTL; returns the oldest entry left (nil when none).
local function trim_by_age(stream, removals, history_ttl_ms, now, retention_ms)
  local cutoff = now - history_ttl_ms
  local expired_up_to = nil
  local oldest = nil
  local batch_size = 1
  while true do
    -- Usually the oldest entry is still young: look at one entry before reading a batch.
    local batch = redis.call('XRANGE', stream, '-', '+', 'COUNT', batch_size)
    batch_size = 64
    if #batch == 0 then break end
    local keep = nil
    for i, entry in ipairs(batch) do
      if tonumber(entry[2][2]) >= cutoff then keep = i break end
      expired_up_to = offset_of(entry[1])
    end
    if keep then
      oldest = batch[keep]
      if keep > 1 then redis.call('XTRIM', stream, 'MINID', oldest[1]) end
      break
    end
    redis.call('XTRIM', stream, 'MINID', fmt(expired_up_to + 1) .. '-0')
  end
  if expired_up_to then record_removal(removals, 'e', expired_up_to, retention_ms) end
  return oldest
end

local function trim_by_count(stream, removals, history_size, retention_ms)
  local length = redis.call('XLEN', stream)
  if length > history_size then
    local removed = redis.call('XRANGE', stream, '-', '+', 'COUNT', length - history_size)
    redis.call('XTRIM', stream, 'MAXLEN', history_size)
    record_removal(removals, 't', offset_of(removed[#removed][1]), retention_ms)
  end
end

local function trim(stream, removals, history_size, history_ttl_ms, now, retention_ms)
  trim_by_age(stream, removals, history_ttl_ms, now, retention_ms)
  trim_by_count(stream, removals, history_size, retention_ms)
end

-- Appends a publication keeping at most history_size entries. In the steady state (history full, one
-- entry leaves per append) XADD trims by itself and the leaving entry is the oldest one already read.
local function append(stream, removals, history_size, history_ttl_ms, now, retention_ms, id, json)
  local oldest = trim_by_age(stream, removals, history_ttl_ms, now, retention_ms)
  if history_size == 0 then
    trim_by_count(stream, removals, 0, retention_ms)
    return
  end
  if oldest and redis.call('XLEN', stream) == history_size then
    redis.call('XADD', stream, 'MAXLEN', history_size, id, 't', fmt(now), 'm', json)
    record_removal(removals, 't', offset_of(oldest[1]), retention_ms)
    return
  end
  trim_by_count(stream, removals, history_size - 1, retention_ms)
  redis.call('XADD', stream, id, 't', fmt(now), 'm', json)
end

local function messages(entries)
  local out = {}
  for i, entry in ipairs(entries) do out[i] = entry[2][4] end
  return out
end
`;

/**
 * Publish. KEYS: meta, stream, removals, idempotency key (the meta key when there is none).
 * ARGV: new epoch, publication JSON head (`{...,` without offset/epoch/timestamp), ephemeral (0|1),
 * historySize, historyTtlMs, idempotency window ms (0: no key), retention ms, pub/sub channel.
 * Returns { offset, epoch, duplicate (0|1) }.
 */
export const PUBLISH_SCRIPT = `${STREAM_HELPERS}
local meta, stream, removals, idem = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local head, ephemeral = ARGV[2], ARGV[3] == '1'
local history_size, history_ttl_ms = tonumber(ARGV[4]), tonumber(ARGV[5])
local window_ms, retention_ms, pubsub = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local epoch, offset = ensure_epoch(meta, stream, removals, ARGV[1], retention_ms)
if window_ms > 0 then
  local seen = redis.call('GET', idem)
  if seen then return { tonumber(seen), epoch, 1 } end
end
local now = now_ms()
if not ephemeral then offset = redis.call('HINCRBY', meta, 'offset', 1) end
local json = head .. '"offset":' .. fmt(offset) .. ',"epoch":"' .. epoch .. '","timestamp":' .. fmt(now) .. '}'
if ephemeral then
  redis.call('PUBLISH', pubsub, 'e' .. json)
  return { offset, epoch, 0 }
end
append(stream, removals, history_size, history_ttl_ms, now, retention_ms, fmt(offset) .. '-0', json)
if window_ms > 0 then redis.call('SET', idem, fmt(offset), 'PX', window_ms) end
redis.call('PEXPIRE', meta, retention_ms)
if history_size > 0 then redis.call('PEXPIRE', stream, retention_ms) end
redis.call('PUBLISH', pubsub, 'p' .. json)
return { offset, epoch, 0 }
`;

/**
 * The stream's position, creating its epoch on first use. KEYS: meta, stream, removals.
 * ARGV: new epoch, retention ms. Returns { offset, epoch }.
 */
export const POSITION_SCRIPT = `${STREAM_HELPERS}
local epoch, offset = ensure_epoch(KEYS[1], KEYS[2], KEYS[3], ARGV[1], tonumber(ARGV[2]))
return { offset, epoch }
`;

/**
 * History. KEYS: meta, stream, removals. ARGV: new epoch, retention ms, historySize, historyTtlMs,
 * since offset (-1 without `since`), limit, reverse (0|1), since epoch. Returns { offset, epoch, messages }.
 */
export const HISTORY_SCRIPT = `${STREAM_HELPERS}
local meta, stream, removals = KEYS[1], KEYS[2], KEYS[3]
local epoch, offset = ensure_epoch(meta, stream, removals, ARGV[1], tonumber(ARGV[2]))
trim(stream, removals, tonumber(ARGV[3]), tonumber(ARGV[4]), now_ms(), tonumber(ARGV[2]))
local after, limit, reverse = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
-- A since position from another epoch reads from the start of this one.
if after >= 0 and ARGV[8] ~= epoch then after = 0 end
local from = after >= 0 and (fmt(after + 1) .. '-0') or '-'
local entries
if reverse then
  entries = redis.call('XREVRANGE', stream, '+', from, 'COUNT', limit)
elseif after >= 0 then
  entries = redis.call('XRANGE', stream, from, '+', 'COUNT', limit)
else
  entries = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', limit)
  local oldest_first = {}
  for i = #entries, 1, -1 do oldest_first[#oldest_first + 1] = entries[i] end
  entries = oldest_first
end
return { offset, epoch, messages(entries) }
`;

/**
 * Recovery. KEYS: meta, stream, removals. ARGV: new epoch, retention ms, historySize, historyTtlMs,
 * since offset, since epoch. Returns { offset, epoch, 'ok', messages } or { offset, epoch, reason }.
 */
export const RECOVER_SCRIPT = `${STREAM_HELPERS}
local meta, stream, removals = KEYS[1], KEYS[2], KEYS[3]
local epoch, offset = ensure_epoch(meta, stream, removals, ARGV[1], tonumber(ARGV[2]))
local history_size, since_offset, since_epoch = tonumber(ARGV[3]), tonumber(ARGV[5]), ARGV[6]
if since_epoch ~= epoch or since_offset > offset then return { offset, epoch, 'epoch_changed' } end
if since_offset == offset then return { offset, epoch, 'ok', {} } end
if history_size == 0 then return { offset, epoch, 'history_disabled' } end
trim(stream, removals, history_size, tonumber(ARGV[4]), now_ms(), tonumber(ARGV[2]))
local needed = since_offset + 1
local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
if first == nil or offset_of(first[1]) > needed then
  local records = redis.call('LRANGE', removals, 0, -1)
  local reason = 'history_trimmed'
  for _, record in ipairs(records) do
    if needed <= tonumber(string.sub(record, 3)) then
      return { offset, epoch, string.sub(record, 1, 1) == 'e' and 'history_expired' or 'history_trimmed' }
    end
    reason = string.sub(record, 1, 1) == 'e' and 'history_expired' or 'history_trimmed'
  end
  return { offset, epoch, reason }
end
return { offset, epoch, 'ok', messages(redis.call('XRANGE', stream, fmt(needed) .. '-0', '+')) }
`;

/**
 * Add a presence member. KEYS: the channel's presence hash, this node's member set.
 * ARGV: clientId, node id, member JSON, member-set entry (`<channel> <clientId>`), pub/sub channel.
 * The hash value is `<member JSON>\n<node id>` (JSON text never holds a raw newline).
 * A new member is announced with `j<member JSON>`.
 */
export const ADD_PRESENCE_SCRIPT = `
local added = redis.call('HSET', KEYS[1], ARGV[1], ARGV[3] .. '\\n' .. ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
if added == 1 then redis.call('PUBLISH', ARGV[5], 'j' .. ARGV[3]) end
return added
`;

/**
 * Remove a presence member. KEYS: the channel's presence hash.
 * ARGV: clientId, member-set entry, pub/sub channel, key prefix.
 * The member is dropped from its owner's member set and announced with `l<member JSON>` as it joined.
 */
export const REMOVE_PRESENCE_SCRIPT = `
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local newline = string.find(value, '\\n', 1, true)
redis.call('SREM', ARGV[4] .. ':node:' .. string.sub(value, newline + 1) .. ':members', ARGV[2])
redis.call('PUBLISH', ARGV[3], 'l' .. string.sub(value, 1, newline - 1))
return 1
`;

/**
 * Shared by the heartbeat and by a node's own shutdown: remove every member a node registered
 * (when its heartbeat key is gone), announce their `leave`, and forget the node.
 */
const SWEEP_HELPERS = `
local function sweep(prefix, node)
  if redis.call('EXISTS', prefix .. ':node:' .. node) == 1 then return 0 end
  local set = prefix .. ':node:' .. node .. ':members'
  local entries = redis.call('SMEMBERS', set)
  for _, entry in ipairs(entries) do
    local space = string.find(entry, ' ', 1, true)
    local channel, client_id = string.sub(entry, 1, space - 1), string.sub(entry, space + 1)
    local hash = prefix .. ':presence:' .. channel
    local value = redis.call('HGET', hash, client_id)
    local newline = value and string.find(value, '\\n', 1, true)
    if newline and string.sub(value, newline + 1) == node then
      redis.call('HDEL', hash, client_id)
      redis.call('PUBLISH', prefix .. ':pub:' .. channel, 'l' .. string.sub(value, 1, newline - 1))
    end
  end
  redis.call('DEL', set)
  redis.call('HDEL', prefix .. ':nodes', node)
  return 1
end
`;

/**
 * Heartbeat. ARGV: prefix, node id, ttl ms, connections.
 * Refreshes this node's heartbeat key and entry, sweeps nodes whose heartbeat key expired.
 * Returns 1 when this node's key had been lost (expired or Redis restarted): its presence must be re-added.
 */
export const HEARTBEAT_SCRIPT = `${SWEEP_HELPERS}
local prefix, node, ttl_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local existed = redis.call('EXISTS', prefix .. ':node:' .. node)
redis.call('SET', prefix .. ':node:' .. node, '1', 'PX', ttl_ms)
redis.call('HSET', prefix .. ':nodes', node, '{"connections":' .. ARGV[4] .. ',"lastSeen":' .. string.format('%d', now) .. '}')
local ids = redis.call('HKEYS', prefix .. ':nodes')
for _, id in ipairs(ids) do
  if id ~= node then sweep(prefix, id) end
end
return existed == 1 and 0 or 1
`;

/** A node leaving for good. ARGV: prefix, node id. Deletes its heartbeat key, then sweeps it. */
export const LEAVE_SCRIPT = `${SWEEP_HELPERS}
redis.call('DEL', ARGV[1] .. ':node:' .. ARGV[2])
return sweep(ARGV[1], ARGV[2])
`;

/**
 * Live nodes. ARGV: prefix, this node's id, its connection count.
 * Returns a flat list: id, connections, ms since last heartbeat, for each node whose heartbeat key lives.
 */
export const NODES_SCRIPT = `
local prefix, self = ARGV[1], ARGV[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local entries = redis.call('HGETALL', prefix .. ':nodes')
local out = { self, tonumber(ARGV[3]), 0 }
for i = 1, #entries, 2 do
  local id = entries[i]
  if id ~= self and redis.call('EXISTS', prefix .. ':node:' .. id) == 1 then
    local info = cjson.decode(entries[i + 1])
    out[#out + 1] = id
    out[#out + 1] = info.connections
    out[#out + 1] = math.max(0, now - info.lastSeen)
  end
end
return out
`;
