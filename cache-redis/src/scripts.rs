//! The Lua scripts. Each operation is one `EVALSHA` (redis-rs falls back to `SCRIPT LOAD` and
//! retries on `NOSCRIPT`), so each is one round trip and atomic on the server.
//!
//! Times come from the client (`ARGV` "now" in .NET ticks), as .NET computes them client-side
//! too; the scripts never call `TIME`. Lua numbers are doubles: tick counts (~6.4e17) lose up to
//! 128 ticks (12.8 µs) of precision in the arithmetic below, irrelevant at millisecond TTLs. The
//! stored field values themselves are written verbatim as the integers the client sent.

use std::sync::LazyLock;

use redis::Script;

/// Shared helpers: strict integer parsing and reading an entry with the liveness rules.
///
/// `read_entry` returns `status, value, slide`:
/// * `1, data, slide_ms_or_nil` — a live entry (`slide` is the TTL a slide applies, if any);
/// * `0` — no entry, or one whose absolute expiration has passed (which it deletes);
/// * `-1, raw` / `-2, raw` — corrupt `absexp` / `sldexp` (left untouched for inspection).
const READ_ENTRY: &str = r"
local function ticks(v)
  if not v then return -1 end
  if not string.match(v, '^%-?%d+$') then return nil end
  return tonumber(v)
end
local function read_entry(key, now)
  local r = redis.call('HMGET', key, 'absexp', 'sldexp', 'data')
  if not r[3] then return 0 end
  local abs = ticks(r[1])
  if abs == nil then return -1, r[1] end
  local sld = ticks(r[2])
  if sld == nil or (sld ~= -1 and sld <= 0) then return -2, r[2] end
  if abs ~= -1 and abs <= now then
    redis.call('DEL', key)
    return 0
  end
  local slide = nil
  if sld ~= -1 then
    slide = sld
    if abs ~= -1 and abs - now < slide then slide = abs - now end
    slide = math.ceil(slide / 10000)
    if slide < 1 then slide = 1 end
  end
  return 1, r[3], slide
end
local function write_entry(key, absexp, sldexp, ttl, data)
  redis.call('HSET', key, 'absexp', absexp, 'sldexp', sldexp, 'data', data)
  if ttl == '-1' then
    redis.call('PERSIST', key)
  else
    redis.call('PEXPIRE', key, ttl)
  end
end
";

/// `get` / `refresh`. KEYS: entry. ARGV: now (ticks), `1` to return the data.
/// Returns `{status}` or `{status, value}` (see [`READ_ENTRY`]).
pub(crate) static GET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{READ_ENTRY}
local status, value, slide = read_entry(KEYS[1], tonumber(ARGV[1]))
if status ~= 1 then return {{status, value}} end
if slide then redis.call('PEXPIRE', KEYS[1], slide) end
if ARGV[2] == '1' then return {{1, value}} end
return {{1}}"
    ))
});

/// `set`. KEYS: entry. ARGV: absexp, sldexp, ttl ms (`-1`: none), data. Returns 1.
///
/// Like .NET it `HSET`s the three fields (other fields survive); unlike .NET it `PERSIST`s a key
/// written without expiration, so an overwrite never inherits the previous entry's TTL.
pub(crate) static SET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{READ_ENTRY}
write_entry(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1"
    ))
});

/// `set_if`. KEYS: entry, lock (the entry again unless the condition is `lock`). ARGV: absexp, sldexp, ttl, data, now, condition
/// (`absent` | `equals` | `lock`), operand. Returns `{1}` (written), `{0}` (condition false) or
/// a corrupt status as [`GET`] does.
pub(crate) static SET_IF: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{READ_ENTRY}
local kind = ARGV[6]
local ok
if kind == 'lock' then
  ok = redis.call('GET', KEYS[2]) == ARGV[7]
else
  local status, value = read_entry(KEYS[1], tonumber(ARGV[5]))
  if status < 0 then return {{status, value}} end
  if kind == 'absent' then
    ok = status == 0
  elseif kind == 'equals' then
    ok = status == 1 and value == ARGV[7]
  else
    return redis.error_reply('unknown set_if condition')
  end
end
if not ok then return {{0}} end
write_entry(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return {{1}}"
    ))
});

/// `remove_if_equals`. KEYS: entry. ARGV: now (ticks), expected data. Deletes the entry only if it
/// is live and holds exactly the expected data (liveness as in [`SET_IF`]'s `equals`; an expired
/// entry counts as missing). Returns `{1}` (removed), `{0}` (missing or different, left alone) or
/// a corrupt status as [`GET`] does.
pub(crate) static REMOVE_IF_EQUALS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{READ_ENTRY}
local status, value = read_entry(KEYS[1], tonumber(ARGV[1]))
if status < 0 then return {{status, value}} end
if status ~= 1 or value ~= ARGV[2] then return {{0}} end
redis.call('UNLINK', KEYS[1])
return {{1}}"
    ))
});

/// `try_lock`. KEYS: lock. ARGV: token, lease ms. Takes a free lock or extends our own.
pub(crate) static TRY_LOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0",
    )
});

/// `unlock`. KEYS: lock. ARGV: token. Compare-and-delete; returns whether it deleted.
pub(crate) static UNLOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0",
    )
});
