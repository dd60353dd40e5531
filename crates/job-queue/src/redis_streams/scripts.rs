//! The Lua scripts: every state change of a job is one script, so it is atomic
//! (and, with `appendfsync always`, durable before the reply). Scripts read the
//! server's clock (`TIME`), so that processes with skewed clocks agree.
//!
//! Keys are derived from `base` inside the scripts, which suits a standalone
//! Redis or Valkey (or a Sentinel-managed primary); Redis Cluster is not supported.

use redis::Script;
use std::sync::LazyLock;

/// What every script may use: the clock, keys, counts. Each script defines only the functions it
/// may call ([`BATCH`] for those that start or end attempts, [`NUMBERS`] for the maintenance
/// scripts): defining them costs at every call.
const PRELUDE: &str = r#"
-- The time in ms as text, made from TIME's two strings: no number parsed or formatted.
local function now_text()
  local t = redis.call('TIME')
  local us = t[2]
  if #us < 6 then us = string.rep('0', 6 - #us) .. us end
  return t[1] .. string.sub(us, 1, 3)
end

-- A job id is '<uuid>.<digest of its idempotency key>'; the job's hash is
-- keyed by the digest, so that it is also the idempotency record.
local function job_key(base, id) return base .. ':job:' .. string.sub(id, -32) end
local function ns(s) return #s .. ':' .. s end

-- Unfinished jobs are counted per second of submission (hash `opened`), and
-- each such second has its earliest submission time in `oldest`: the depth and
-- the oldest job's age for one counter update per batch, not a sorted-set
-- entry per job.
local function count_open(base, bucket, first_ms, n)
  local left = redis.call('HINCRBY', base .. ':opened', bucket, n)
  if n > 0 and left == n then
    redis.call('ZADD', base .. ':oldest', first_ms, bucket)
  elseif left <= 0 then
    redis.call('HDEL', base .. ':opened', bucket)
    redis.call('ZREM', base .. ':oldest', bucket)
  end
end
local function bucket_of(ms) return string.sub(ms or '0', 1, -4) end
"#;

/// The time as a number and numbers as text, for the maintenance scripts that compute with them.
const NUMBERS: &str = r#"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function num(n) return string.format('%.0f', n) end
"#;

/// The batch of a script that starts or ends attempts, and what ends them.
const BATCH: &str = r#"
-- Compared, not looked up in a table: a table would be made at every call.
local function final(status)
  return status == 'succeeded' or status == 'failed' or status == 'dead_lettered' or status == 'withdrawn'
end

-- Work done for a whole batch at its end: one XACK, one count update per
-- second of submission, one retry counter update, one PUBLISH carrying every
-- job that became final. `now` is the batch's time (ms, as text); `updated`,
-- the netstrings of the done messages' `updated` field, is made at the first.
local function batch(base, group, now)
  return { base = base, group = group, now = now, acks = {}, closed = {}, done = {}, retried = 0 }
end

local function flush(b)
  if #b.acks > 0 then redis.call('XACK', b.base .. ':ready', b.group, unpack(b.acks)) end
  for bucket, n in pairs(b.closed) do count_open(b.base, bucket, 0, -n) end
  if b.retried > 0 then redis.call('HINCRBY', b.base .. ':stats', 'retries', b.retried) end
  if #b.done > 0 then redis.call('PUBLISH', b.base .. ':done', table.concat(b.done)) end
end

-- The job left its ordering key's chain: the next job of the key becomes
-- ready. Popping two at once costs one command when the chain had no other job. The count is
-- the string '2': a Lua number given to a command is formatted with snprintf (%.17g) by Redis.
local function release(base, okey, id)
  if not okey then return end
  local chain = base .. ':key:' .. okey
  local popped = redis.call('LPOP', chain, '2')
  if not popped then return end
  if popped[1] ~= id then
    -- Not the head (a repair after manual edits): put them back, drop this job.
    for i = #popped, 1, -1 do redis.call('LPUSH', chain, popped[i]) end
    redis.call('LREM', chain, 0, id)
  elseif popped[2] then
    local nxt = popped[2]
    redis.call('LPUSH', chain, nxt)
    local eid = redis.call('XADD', base .. ':ready', '*', 'id', nxt)
    redis.call('HSET', job_key(base, nxt), 'entry', eid)
  end
end

-- A job is final: the status and `updated` recorded, the payload emptied and
-- its secrets removed (unless `secrets` is false: the job is known to have
-- none, so there is no field to delete), kept (and so its idempotency key)
-- for the result TTL, the next job of its ordering key released. The caller
-- writes its other fields in the same HSET (`field`, `value`) and queues its
-- final state for the done message.
local function close_job(b, id, jk, okey, submitted, secrets, status, ttl, field, value)
  redis.call('HSET', jk, 'status', status, 'updated', b.now, 'payload', '', field, value)
  if secrets ~= false then redis.call('HDEL', jk, 'secrets') end
  redis.call('PEXPIRE', jk, ttl)
  release(b.base, okey, id)
  local bucket = bucket_of(submitted)
  b.closed[bucket] = (b.closed[bucket] or 0) + 1
end

-- Queues a final state for the done message (a netstring of netstrings: the
-- id, then field/value pairs), so that waiters need not read it back:
-- `record` (netstrings of the state without `updated`, up to the length
-- prefix of its last value), then `value`, then `updated`. Kept as pieces that
-- `flush` joins once, so no string of the whole record is made per job, and
-- with one number formatted per job (its length). `prefixed`: the record
-- begins with that length already (the worker's, counting `updated` as 25
-- bytes, a 13-digit time), so no number is formatted unless `updated` differs.
local function queue_done(b, record, value, prefixed)
  local done, updated = b.done, b.updated
  if not updated then
    -- A 13-digit time (2001 to 2286) without its length formatted.
    updated = #b.now == 13 and '7:updated13:' .. b.now or '7:updated' .. ns(b.now)
    b.updated = updated
  end
  local n = #done
  if prefixed then
    if #updated == 25 then
      done[n + 1], done[n + 2], done[n + 3] = record, value, updated
      return
    end
    record = string.sub(record, string.find(record, ':', 1, true) + 1)
  end
  done[n + 1] = (#record + #value + #updated) .. ':'
  done[n + 2] = record
  done[n + 3] = value
  done[n + 4] = updated
end

-- A job becomes final in a script that holds its fields (`job`: okey, attempts,
-- submitted, last_error and secrets) but not its state as the done message
-- carries it: that state is built here.
local function finish_job(b, id, jk, job, status, ttl, field, value)
  close_job(b, id, jk, job.okey, job.submitted, job.secrets, status, ttl, field, value)
  local f = { ns(id), ns('status'), ns(status), ns('okey'), ns(job.okey or ''), ns('attempts'),
    ns(job.attempts or '0'), ns('submitted'), ns(job.submitted or '0') }
  if job.last_error and field ~= 'last_error' then
    f[#f + 1] = ns('last_error')
    f[#f + 1] = ns(job.last_error)
  end
  f[#f + 1] = ns(field)
  f[#f + 1] = #value .. ':'
  queue_done(b, table.concat(f), value)
end

-- The dead letter keeps the payload for inspection, never the job's secrets.
local function dead_letter(b, id, jk, job, err, ttl)
  local f = redis.call('HMGET', jk, 'payload', 'trace')
  redis.call('XADD', b.base .. ':dead', '*', 'id', id, 'okey', job.okey or '', 'attempts', job.attempts or '0',
    'error', err, 'payload', f[1] or '', 'trace', f[2] or '{}')
  finish_job(b, id, jk, job, 'dead_lettered', ttl, 'last_error', err)
end
"#;

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

/// A script with the numbers' functions ([`NUMBERS`]) too.
fn numbers_script(body: &str) -> Script {
    script(&format!("{NUMBERS}\n{body}"))
}

/// A script with the batch functions ([`BATCH`]) too.
fn batch_script(body: &str) -> Script {
    script(&format!("{BATCH}\n{body}"))
}

/// Submits a batch of jobs. ARGV: base, then per job: candidate id (ending in
/// the digest of its idempotency key), idempotency key, fingerprint, ordering
/// key, payload, secrets (empty for none), trace context. Returns per job
/// {job id, outcome, fingerprint}: outcome 0 for a new job, 1 when an earlier
/// submission had the key and the same fingerprint, 2 when it had another
/// fingerprint (returned; nothing is enqueued). A job stored without a
/// fingerprint (before they were kept) matches any. A key whose job was
/// dead-lettered or withdrawn starts a new job for the same request (a dead letter stays;
/// the key's hash now holds the new job). Repeating a call (its reply
/// was lost) returns the same ids with 0. A new job's row (its id is the
/// candidate, its fingerprint the one submitted) is the number 0 alone.
pub(crate) static SUBMIT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local base = ARGV[1]
local now = now_text()
local out, added = {}, 0
local NONE = {}
-- A new job's row: 0 stands for {candidate id, 0, fingerprint}, which the caller knows.
for i = 2, #ARGV, 7 do
  local id, idem, fp, okey = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local jk = job_key(base, id)
  -- A new job's hash does not exist: one field asked (no table of replies), the others only if it does.
  local f = redis.call('HGET', jk, 'id') and redis.call('HMGET', jk, 'id', 'idem', 'fp', 'status') or NONE
  if f[1] and f[2] ~= idem then
    return redis.error_reply('idempotency keys ' .. idem .. ' and ' .. tostring(f[2]) .. ' share a digest')
  elseif f[1] == id then
    out[#out + 1] = 0
  elseif f[1] and f[3] and f[3] ~= fp then
    out[#out + 1] = {f[1], 2, f[3]}
  elseif f[1] and f[4] ~= 'dead_lettered' and f[4] ~= 'withdrawn' then
    out[#out + 1] = {f[1], 1, fp}
  else
    -- The same request again after its job was dead-lettered or withdrawn: a new job under the key.
    if f[1] then redis.call('DEL', jk) end
    local entry = ''
    if redis.call('RPUSH', base .. ':key:' .. okey, id) == 1 then
      entry = redis.call('XADD', base .. ':ready', '*', 'id', id)
    end
    redis.call('HSET', jk, 'id', id, 'status', 'queued', 'okey', okey, 'idem', idem, 'fp', fp, 'payload',
      ARGV[i + 4], 'trace', ARGV[i + 6], 'submitted', now, 'entry', entry)
    if #ARGV[i + 5] > 0 then redis.call('HSET', jk, 'secrets', ARGV[i + 5]) end
    added = added + 1
    out[#out + 1] = 0
  end
end
if added > 0 then count_open(base, bucket_of(now), now, added) end
return out
"#,
    )
});

/// Starting the attempts of delivered entries, shared by [`TAKE`], [`READ_TAKE`] and
/// [`FINISH_TAKE`]: `args[first..]` are (entry id, job id) pairs; `fresh` when they were just read
/// as new by `consumer`. The time is the batch's (`b.now`). Acknowledgements and notifications go
/// to the batch `b`, which the caller flushes. The rows are appended to one flat array, nine values
/// per job (no table per job to make and convert). `read_take` reads up to `count` new entries first
/// (`XREADGROUP` without blocking) and returns how many it read beside the rows; `count` is the
/// argument's text, given on as it is (Redis formats a Lua number given to a command with snprintf).
const TAKE_FN: &str = r#"
local function take(b, consumer, max_attempts, ttl, fresh, args, first)
  local base, group = b.base, b.group
  local stream = base .. ':ready'
  local out = {}
  for i = first, #args, 2 do
    local eid, id = args[i], args[i + 1]
    local jk = job_key(base, id)
    local f = redis.call('HMGET', jk, 'id', 'status', 'entry', 'owner', 'delivery', 'attempts', 'okey', 'payload',
      'trace', 'submitted', 'last_error', 'secrets')
    -- A new entry was handed to this consumer by the read just before; a
    -- reclaimed one may have been claimed again since, so ask.
    local delivery = eid .. '#1'
    local mine = fresh
    if not fresh then
      local p = redis.call('XPENDING', stream, group, eid, eid, 1)
      mine = #p == 1 and p[1][2] == consumer
      if mine then delivery = eid .. '#' .. p[1][4] end
    end
    if mine then
      local status = f[2]
      if f[1] ~= id or final(status) or f[3] ~= eid then
        b.acks[#b.acks + 1] = eid
      else
        local attempts = tonumber(f[6]) or 0
        local start = true
        if status == 'running' and f[4] == consumer and f[5] == delivery then
          start = true
        elseif attempts >= max_attempts then
          b.acks[#b.acks + 1] = eid
          local job = { okey = f[7], attempts = f[6], submitted = f[10] }
          dead_letter(b, id, jk, job, 'worker lost: attempt ' .. attempts .. ' passed its visibility timeout', ttl)
          start = false
        else
          attempts = attempts + 1
          redis.call('HSET', jk, 'status', 'running', 'attempts', f[6] and tostring(attempts) or '1', 'owner', consumer,
            'delivery', delivery, 'updated', b.now)
        end
        if start then
          local n = #out
          out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5] = eid, id, f[7] or '', f[8] or '', f[9] or '{}'
          out[n + 6], out[n + 7], out[n + 8], out[n + 9] = attempts, f[10] or '0', f[11] or false, f[12] or ''
        end
      end
    end
  end
  return out
end

local function read_take(b, consumer, max_attempts, ttl, count)
  local stream = b.base .. ':ready'
  -- A failed read (the group vanished) reads nothing rather than abort the script: the outcomes
  -- recorded before it still get their acknowledgement and done message. The reader's blocking
  -- read then meets the error and recreates the group.
  local read = redis.pcall('XREADGROUP', 'GROUP', b.group, consumer, 'COUNT', count, 'STREAMS', stream, '>')
  if not read or read.err then return 0, {} end
  local entries = read[1][2]
  local pairs_ = {}
  for _, e in ipairs(entries) do
    local id = false
    local fields = e[2]
    if fields then
      for i = 1, #fields, 2 do
        if fields[i] == 'id' then id = fields[i + 1] end
      end
    end
    if id then
      pairs_[#pairs_ + 1] = e[1]
      pairs_[#pairs_ + 1] = id
    else
      b.acks[#b.acks + 1] = e[1]
    end
  end
  return #entries, take(b, consumer, max_attempts, ttl, true, pairs_, 1)
end
"#;

/// Starts the jobs of entries just delivered to `consumer`.
/// ARGV: base, group, consumer, max attempts, result TTL ms, 1 when the entries
/// were just read as new (else reclaimed), then (entry id, job id) pairs.
/// Returns entry id, job id, ordering key, payload, trace, attempt, submitted,
/// last error or false, secrets per job to run, in one flat array (nine values a job).
/// Entries that are stale (job finished, expired or re-queued under a newer
/// entry) are acknowledged and skipped; reclaimed entries another consumer
/// claimed in the meantime are skipped; a job whose last allowed attempt was
/// lost with its worker is dead-lettered. Repeating a call for the same
/// delivery is harmless.
pub(crate) static TAKE: LazyLock<Script> = LazyLock::new(|| {
    batch_script(&format!(
        r#"{TAKE_FN}
local b = batch(ARGV[1], ARGV[2], now_text())
local out = take(b, ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6] == '1', ARGV, 7)
flush(b)
return out
"#
    ))
});

/// Reads up to `count` new entries for `consumer` (`XREADGROUP` without blocking) and starts their
/// jobs as [`TAKE`] does, in one round trip instead of two: what a worker process does while jobs
/// are waiting. ARGV: base, group, consumer, max attempts, result TTL ms, count. Returns {entries
/// read, rows as [`TAKE`]'s}; entries without a job id are acknowledged and skipped. Not safe to
/// repeat: entries read by a call whose reply was lost stay pending for `consumer` and are
/// reclaimed after the visibility timeout, as after a lost `XREADGROUP` reply.
pub(crate) static READ_TAKE: LazyLock<Script> = LazyLock::new(|| {
    batch_script(&format!(
        r#"{TAKE_FN}
local b = batch(ARGV[1], ARGV[2], now_text())
local read, rows = read_take(b, ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6])
flush(b)
return {{read, rows}}
"#
    ))
});

/// Recording attempts' outcomes, shared by [`FINISH`] and [`FINISH_TAKE`]: from `args[first]` on,
/// per outcome: consumer, job id, entry id, attempt, outcome (`succeeded`|`failed`|`retry`),
/// result or error, retry delay ms, the job's final state for the done message without `updated`
/// and up to the result's length prefix (netstrings: the id, then field/value pairs, the last
/// `6:result` and `<length of the result>:`), preceded by the length prefix of the job's whole
/// record with a 25-byte `updated` field (empty for a retry), and `1` when the
/// job may hold secrets (`0`: it had none, so there is no field to delete). Each is fenced by owner
/// and attempt. Returns per outcome `final`, `retry` (after the delay given), `done` (a repeated
/// call) or `stale` (another attempt owns the job now), one flat array.
const FINISH_FN: &str = r#"
local function finish(b, max_attempts, ttl, consumer, id, eid, attempt, outcome, data, delay, record, secrets)
  local jk = job_key(b.base, id)
  -- No last_error: a final outcome's state comes from the caller, a dead letter's error replaces it.
  local f = redis.call('HMGET', jk, 'id', 'status', 'owner', 'attempts', 'okey', 'submitted')
  if f[1] ~= id then return 'stale' end
  -- The attempt numbers compare as text (both written as integers); as numbers only when they differ.
  local same = f[4] == attempt or tonumber(f[4]) == tonumber(attempt)
  if f[2] ~= 'running' or f[3] ~= consumer or not same then
    if final(f[2]) and f[3] == consumer and same then return 'done' end
    return 'stale'
  end
  b.acks[#b.acks + 1] = eid
  if outcome == 'succeeded' or outcome == 'failed' then
    close_job(b, id, jk, f[5], f[6], secrets, outcome, ttl, 'result', data)
    queue_done(b, record, data, true)
    return 'final'
  end
  if tonumber(attempt) >= max_attempts then
    local job = { okey = f[5], attempts = f[4], submitted = f[6], secrets = secrets }
    dead_letter(b, id, jk, job, data, ttl)
    return 'final'
  end
  redis.call('HSET', jk, 'status', 'retrying', 'last_error', data, 'updated', b.now)
  redis.call('ZADD', b.base .. ':delayed', tonumber(b.now) + tonumber(delay), id)
  b.retried = b.retried + 1
  return 'retry'
end

local function record_outcomes(b, max_attempts, ttl, args, first)
  local out = {}
  for i = first, #args, 9 do
    out[#out + 1] = finish(b, max_attempts, ttl, args[i], args[i + 1], args[i + 2], args[i + 3], args[i + 4],
      args[i + 5], args[i + 6], args[i + 7], args[i + 8] == '1')
  end
  return out
end
"#;

/// Records a batch of attempts' outcomes, each fenced by owner and attempt.
/// ARGV: base, group, max attempts, result TTL ms, then per outcome the nine values of
/// [`FINISH_FN`]. Returns its rows. Safe to repeat.
pub(crate) static FINISH: LazyLock<Script> = LazyLock::new(|| {
    batch_script(&format!(
        r#"{FINISH_FN}
local b = batch(ARGV[1], ARGV[2], now_text())
local out = record_outcomes(b, tonumber(ARGV[3]), ARGV[4], ARGV, 5)
flush(b)
return out
"#
    ))
});

/// What a busy worker process does when attempts end: records their outcomes as [`FINISH`] does,
/// then reads up to `count` new entries for `consumer` and starts their jobs as [`READ_TAKE`] does
/// (a job its outcomes released from an ordering chain included), in one call instead of two, with
/// one acknowledgement and one done message for both. ARGV: base, group, max attempts, result TTL
/// ms, consumer, count (0: record only), then the outcomes as [`FINISH`]'s. Returns {[`FINISH`]'s
/// rows, entries read, [`TAKE`]'s rows}. Repeating a call records nothing twice, but entries read
/// by a call whose reply was lost stay pending for `consumer` until the visibility timeout.
pub(crate) static FINISH_TAKE: LazyLock<Script> = LazyLock::new(|| {
    batch_script(&format!(
        r#"{FINISH_FN}
{TAKE_FN}
local base, group, max_attempts, ttl, consumer, count = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5],
  ARGV[6]
local b = batch(base, group, now_text())
local recorded = record_outcomes(b, max_attempts, ttl, ARGV, 7)
local read, rows = 0, {{}}
if count ~= '0' then read, rows = read_take(b, consumer, max_attempts, ttl, count) end
flush(b)
return {{recorded, read, rows}}
"#
    ))
});

/// Withdraws a job that no worker has taken (see `JobQueue::withdraw`). ARGV: base, group, result
/// TTL ms, job id. A job still `queued` with no attempt started and not `seen` by an earlier job's
/// attempt ([`FOLLOWING`]) leaves its ordering key's chain (a
/// head releases the next job of its key, one further back is just removed), its entry in the
/// ready stream is deleted and acknowledged (a worker that read it just before finds the job final
/// and skips it), and it becomes final as `withdrawn`, with the field `withdrawn` saying whether it
/// was `head` or `behind`: kept for the result TTL like any final job, counted in `stats`, its
/// waiters woken by the done message. Returns `withdrawn` (it headed its key), `withdrawn behind`,
/// `taken` (an attempt had started, it had ended, or it was seen: nothing changed) or `unknown`.
/// Safe to repeat:
/// a withdrawn job answers as it did.
pub(crate) static WITHDRAW: LazyLock<Script> = LazyLock::new(|| {
    batch_script(
        r#"
local base, group, ttl, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local jk = job_key(base, id)
local f = redis.call('HMGET', jk, 'id', 'status', 'attempts', 'okey', 'submitted', 'entry', 'withdrawn', 'last_error',
  'seen')
if f[1] ~= id then return 'unknown' end
if f[2] == 'withdrawn' then return f[7] == 'behind' and 'withdrawn behind' or 'withdrawn' end
if f[2] ~= 'queued' or (tonumber(f[3]) or 0) > 0 or f[9] then return 'taken' end
local b = batch(base, group, now_text())
-- A job gets its entry in the ready stream when it heads its ordering key.
local eid = f[6]
local behind = not eid or eid == ''
if not behind then
  redis.call('XDEL', base .. ':ready', eid)
  b.acks[#b.acks + 1] = eid
end
redis.call('HINCRBY', base .. ':stats', 'withdrawn', 1)
local job = { okey = f[4], attempts = f[3], submitted = f[5], last_error = f[8] }
finish_job(b, id, jk, job, 'withdrawn', ttl, 'withdrawn', behind and 'behind' or 'head')
flush(b)
return behind and 'withdrawn behind' or 'withdrawn'
"#,
    )
});

/// Renews a running job's lease by resetting its entry's idle time, if the
/// caller still owns the attempt. ARGV: base, group, consumer, job id, entry id, attempt.
pub(crate) static RENEW: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local base, group, consumer, id, eid = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local f = redis.call('HMGET', job_key(base, id), 'id', 'status', 'owner', 'attempts')
if f[1] ~= id or f[2] ~= 'running' or f[3] ~= consumer or tonumber(f[4]) ~= tonumber(ARGV[6]) then return 0 end
redis.call('XCLAIM', base .. ':ready', group, consumer, 0, eid, 'JUSTID')
return 1
"#,
    )
});

/// Reads the jobs queued behind a running attempt's job on its ordering key, changing nothing but
/// that each job returned is marked `seen` (the attempt may carry its change along: it can no
/// longer be withdrawn). ARGV: base, consumer, job id, attempt, most jobs. Returns {job id,
/// payload, trace} per job after it in its chain, in chain order, stopping at the first that is
/// not queued; none unless the attempt (consumer and attempt number) still runs the job and the
/// job heads its chain.
pub(crate) static FOLLOWING: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local base, consumer, id, attempt, most = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local f = redis.call('HMGET', job_key(base, id), 'id', 'status', 'owner', 'attempts', 'okey')
if f[1] ~= id or f[2] ~= 'running' or f[3] ~= consumer or tonumber(f[4]) ~= attempt or not f[5] then return {} end
local ids = redis.call('LRANGE', base .. ':key:' .. f[5], 0, most)
if ids[1] ~= id then return {} end
local out = {}
for i = 2, #ids do
  local jk = job_key(base, ids[i])
  local g = redis.call('HMGET', jk, 'id', 'status', 'payload', 'trace', 'seen')
  if g[1] ~= ids[i] or g[2] ~= 'queued' then break end
  if not g[5] then redis.call('HSET', jk, 'seen', '1') end
  out[#out + 1] = {ids[i], g[3] or '', g[4] or '{}'}
end
return out
"#,
    )
});

/// Moves due retries to the ready stream. ARGV: base, limit.
/// Returns {jobs promoted, ms until the next retry is due or -1}.
pub(crate) static PROMOTE: LazyLock<Script> = LazyLock::new(|| {
    numbers_script(
        r#"
local base = ARGV[1]
local delayed = base .. ':delayed'
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZREM', delayed, id)
  local jk = job_key(base, id)
  local f = redis.call('HMGET', jk, 'id', 'status')
  if f[1] == id and f[2] == 'retrying' then
    local eid = redis.call('XADD', base .. ':ready', '*', 'id', id)
    redis.call('HSET', jk, 'entry', eid)
  end
end
local nxt = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
local wait = -1
if #nxt == 2 then wait = math.max(0, tonumber(nxt[2]) - now) end
return {#ids, wait}
"#,
    )
});

/// ARGV: base, group. Returns {unfinished jobs (the sum of the counts per second
/// of submission), age ms of the oldest or -1,
/// delivered and unacknowledged, retries so far, dead letters, withdrawals so far}. The age is that
/// of the earliest submission in the oldest second that still has an unfinished
/// job: exact while that job is unfinished, at most a second too old once it
/// finished before others submitted in the same second.
pub(crate) static METRICS: LazyLock<Script> = LazyLock::new(|| {
    numbers_script(
        r#"
local base, group = ARGV[1], ARGV[2]
local now = now_ms()
local stats = redis.call('HMGET', base .. ':stats', 'retries', 'withdrawn')
local open = 0
for _, n in ipairs(redis.call('HVALS', base .. ':opened')) do open = open + tonumber(n) end
local oldest = redis.call('ZRANGE', base .. ':oldest', 0, 0, 'WITHSCORES')
local age = -1
if #oldest == 2 then age = math.max(0, now - tonumber(oldest[2])) end
local pending = redis.call('XPENDING', base .. ':ready', group)
return {math.max(0, open), age, pending[1], tonumber(stats[1] or '0'), redis.call('XLEN', base .. ':dead'),
  tonumber(stats[2] or '0')}
"#,
    )
});

/// Trims a stream to its retention without dropping any entry a consumer group
/// has not acknowledged or not yet read. ARGV: stream, retention ms.
/// Returns the number of entries removed.
pub(crate) static TRIM: LazyLock<Script> = LazyLock::new(|| {
    numbers_script(
        r#"
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local stream = ARGV[1]
if redis.call('EXISTS', stream) == 0 then return 0 end
local minid = num(math.max(0, now_ms() - tonumber(ARGV[2]))) .. '-0'
for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local name, pending, last
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1]
    elseif g[i] == 'pending' then pending = g[i + 1]
    elseif g[i] == 'last-delivered-id' then last = g[i + 1] end
  end
  if last and less(last, minid) then minid = last end
  if pending and pending > 0 then
    local summary = redis.call('XPENDING', stream, name)
    if summary[2] and less(summary[2], minid) then minid = summary[2] end
  end
end
return redis.call('XTRIM', stream, 'MINID', '~', minid)
"#,
    )
});

/// Forgets consumers that hold nothing and have been idle for long (each
/// worker process registers new ones). ARGV: stream, group, idle ms.
pub(crate) static FORGET_CONSUMERS: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local stream, group, idle_limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('EXISTS', stream) == 0 then return 0 end
local removed = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group)) do
  local name, pending, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1]
    elseif c[i] == 'pending' then pending = c[i + 1]
    elseif c[i] == 'idle' then idle = c[i + 1] end
  end
  if name and pending == 0 and idle and idle > idle_limit then
    redis.call('XGROUP', 'DELCONSUMER', stream, group, name)
    removed = removed + 1
  end
end
return removed
"#,
    )
});

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker's done record begins with the whole message's length counting a 25-byte `updated`;
    /// with a time of another length (not before 2286), the script strips it and counts again.
    #[tokio::test]
    async fn a_done_record_s_length_is_counted_again_when_updated_is_not_25_bytes() {
        let client = redis::Client::open(test_support::redis_url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.expect("the tests need Redis at REDIS_URL");
        let done = batch_script(
            r#"
local b = batch('unused', 'unused', ARGV[1])
queue_done(b, ARGV[2], ARGV[3], true)
return table.concat(b.done)
"#,
        );
        let body = "3:a.16:result1:";
        let whole = format!("{}:{body}", body.len() + 1 + 25);
        let message: String = done.arg("1700000000123").arg(&whole).arg("r").invoke_async(&mut conn).await.unwrap();
        assert_eq!(message, format!("{whole}r7:updated13:1700000000123"));
        let message: String = done.arg("17000000001234").arg(&whole).arg("r").invoke_async(&mut conn).await.unwrap();
        let rest = format!("{body}r7:updated14:17000000001234");
        assert_eq!(message, format!("{}:{rest}", rest.len()));
    }
}
