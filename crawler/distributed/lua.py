"""The Lua scripts that decide, atomically inside Redis, what a worker of a shared crawl may
do next. Every time is Redis's own clock (TIME), so workers on machines whose clocks differ
still keep each site's delay.

Keys (KEYS[1] is the crawl's prefix, `palimpsest:<crawl id>:`; the rest are built from it):
  q:<site>     list of serialized requests waiting, one list per site (FIFO: breadth first)
  ready        zset site -> earliest time its next request may be granted
  next         hash site -> next allowed fetch time (start of the last grant + delay, or end
               of the last fetch + delay, whichever is later)
  busy:<site>  zset lease id -> lease expiry: the site's requests in flight
  pol          hash site -> "delay concurrency"
  leases       zset lease id -> expiry; lease: hash id -> request; lsite: hash id -> site
  queued       count of requests in every q:<site>
  seen         set of 8-byte URL fingerprints; pages: hash site -> pages admitted
  found        stream of the URLs new to the seen set, the newest FOUND_KEPT of them: each
               worker reads it with its grants, so as not to push what another queued
  stats        hash of the crawl's counters
"""

# shared by the scripts below: the clock and a site's politeness
_PRELUDE = """
local P = KEYS[1]
local FOUND_KEPT = 100000  -- the newest URLs the found stream keeps (10 MB of 100-byte URLs)
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function policy(site)
  local pol = redis.call('HGET', P .. 'pol', site) or '0 1'
  local delay, conc = string.match(pol, '(%S+) (%S+)')
  return tonumber(delay), tonumber(conc)
end
local function next_allowed(site)
  return tonumber(redis.call('HGET', P .. 'next', site) or '0')
end
local function in_flight(site, except)
  local busy = P .. 'busy:' .. site
  redis.call('ZREMRANGEBYSCORE', busy, '-inf', now)
  local n = redis.call('ZCARD', busy)
  if except and redis.call('ZSCORE', busy, except) then n = n - 1 end
  return n
end
local function stamp(site, delay)
  local nxt = math.max(next_allowed(site), now + delay)
  redis.call('HSET', P .. 'next', site, tostring(nxt))
  redis.call('ZADD', P .. 'ready', 'XX', nxt, site)
end
"""

# ARGV: lease seconds, most requests wanted. Returns {lease id, site, request, ...} for up to
# that many requests that may be fetched now (a site gives more than one only while it has
# no delay and a free slot), else {wait seconds} (how long until a site may be).
GRANT = _PRELUDE + """
local ttl, want = tonumber(ARGV[1]), tonumber(ARGV[2] or '1')
local out = {}
local sites = redis.call('ZRANGEBYSCORE', P .. 'ready', '-inf', now, 'LIMIT', 0, 64)
for _, site in ipairs(sites) do
  local q = P .. 'q:' .. site
  local delay, conc = policy(site)
  if next_allowed(site) > now then  -- not yet: ready again when it may be
    redis.call('ZADD', P .. 'ready', next_allowed(site), site)
  end
  while #out < 3 * want and next_allowed(site) <= now do
    if redis.call('LLEN', q) == 0 then
      redis.call('ZREM', P .. 'ready', site)
      break
    end
    if in_flight(site) >= conc then
      -- full: look again when its first request in flight would expire (a release is sooner)
      local first = redis.call('ZRANGE', P .. 'busy:' .. site, 0, 0, 'WITHSCORES')
      redis.call('ZADD', P .. 'ready', tonumber(first[2]), site)
      break
    end
    local request = redis.call('LPOP', q)
    local id = tostring(redis.call('INCR', P .. 'leaseseq'))
    redis.call('ZADD', P .. 'leases', now + ttl, id)
    redis.call('HSET', P .. 'lease', id, request)
    redis.call('HSET', P .. 'lsite', id, site)
    redis.call('ZADD', P .. 'busy:' .. site, now + ttl, id)
    redis.call('DECR', P .. 'queued')
    stamp(site, delay)
    out[#out + 1] = id
    out[#out + 1] = site
    out[#out + 1] = request
  end
  if #out >= 3 * want then break end
end
if #out > 0 then return out end
local soonest = redis.call('ZRANGE', P .. 'ready', 0, 0, 'WITHSCORES')
if soonest[2] then return {tostring(math.max(tonumber(soonest[2]) - now, 0))} end
return {'0.05'}  -- nothing queued: look again soon (another worker may queue some)
"""

# ARGV: site, lease id, lease seconds. A leased request fetches once more (a redirect, a
# retry, the page after its site's robots.txt): 0 if it may now, else seconds to wait.
ACQUIRE = _PRELUDE + """
local site, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local delay, conc = policy(site)
local wait = next_allowed(site) - now
if wait > 0 then return tostring(wait) end
if in_flight(site, id) >= conc then return '0.05' end
redis.call('ZADD', P .. 'busy:' .. site, now + ttl, id)
redis.call('ZADD', P .. 'leases', 'XX', now + ttl, id)
stamp(site, delay)
return '0'
"""

# ARGV: site, lease id. A fetch left the downloader: its site may be fetched again, one
# delay after the end of this fetch at the soonest (the delay holds from request to request
# whatever the fetch took, as Heritrix reads it)
RELEASE = _PRELUDE + """
local site, id = ARGV[1], ARGV[2]
redis.call('ZREM', P .. 'busy:' .. site, id)
redis.call('HINCRBY', P .. 'stats', 'fetched', 1)
local delay = policy(site)
stamp(site, delay)
return 1
"""

# ARGV: site. A fetch made under a grant ended (robots.txt, before the page that waited for
# it): the site's next fetch waits a delay after it, the grant's slot still held
PACE = _PRELUDE + """
local delay = policy(ARGV[1])
redis.call('HINCRBY', P .. 'stats', 'fetched', 1)
stamp(ARGV[1], delay)
return 1
"""

# ARGV: lease id ('' for none), then per request: fingerprint, site, counts (1 if a page
# that counts against its site's limit, 2 if only to be marked seen), page limit, URL,
# request. A URL new to the seen set goes on the `found` stream, for the other workers.
# Completes the lease and queues what it found, in one step: a worker killed before this
# loses nothing (the lease expires, the page is fetched again), after it nothing is left.
# Returns per request: 'new', 'seen' or 'limit'.
PUSH = _PRELUDE + """
local id = ARGV[1]
if id ~= '' then
  local site = redis.call('HGET', P .. 'lsite', id)
  if site and redis.call('ZREM', P .. 'busy:' .. site, id) == 1 then
    -- still in flight: it ended with no fetch (refused before its download), so no release
    -- came; a grant that found the site full looks again only when this lease would expire
    redis.call('ZADD', P .. 'ready', 'XX', next_allowed(site), site)
  end
  if redis.call('ZREM', P .. 'leases', id) == 1 then
    redis.call('HINCRBY', P .. 'stats', 'done', 1)
  end
  redis.call('HDEL', P .. 'lease', id)
  redis.call('HDEL', P .. 'lsite', id)
end
local out = {}
for i = 2, #ARGV, 6 do
  local fp, site, counts, limit = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3]
  local url, request = ARGV[i+4], ARGV[i+5]
  local verdict = 'new'
  if fp ~= '' then
    if redis.call('SADD', P .. 'seen', fp) == 0 then
      verdict = 'seen'
    else
      redis.call('XADD', P .. 'found', 'MAXLEN', '~', FOUND_KEPT, '*', 'u', url)
    end
  end
  if verdict == 'new' and counts == '1'
      and redis.call('HINCRBY', P .. 'pages', site, 1) > tonumber(limit) then
    redis.call('HINCRBY', P .. 'pages', site, -1)
    verdict = 'limit'
  end
  if verdict == 'new' and counts ~= '2' then
    redis.call('RPUSH', P .. 'q:' .. site, request)
    redis.call('INCR', P .. 'queued')
    redis.call('ZADD', P .. 'ready', 'NX', next_allowed(site), site)
  end
  out[#out + 1] = verdict
end
return out
"""

# ARGV: lease seconds, then lease ids: this worker is still at them
RENEW = _PRELUDE + """
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('ZADD', P .. 'leases', 'XX', 'CH', now + ttl, id) == 1 then
    local site = redis.call('HGET', P .. 'lsite', id)
    if site then redis.call('ZADD', P .. 'busy:' .. site, 'XX', now + ttl, id) end
  end
end
return 1
"""

# Leases that expired (their worker died, or lost Redis for longer than a lease) go back to
# the front of their site's queue. Returns how many.
REAP = _PRELUDE + """
local expired = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
  local site = redis.call('HGET', P .. 'lsite', id)
  local request = redis.call('HGET', P .. 'lease', id)
  if site and request then
    redis.call('LPUSH', P .. 'q:' .. site, request)
    redis.call('INCR', P .. 'queued')
    redis.call('ZADD', P .. 'ready', 'NX', next_allowed(site), site)
    redis.call('ZREM', P .. 'busy:' .. site, id)
    redis.call('HINCRBY', P .. 'stats', 'requeued', 1)
  end
  redis.call('ZREM', P .. 'leases', id)
  redis.call('HDEL', P .. 'lease', id)
  redis.call('HDEL', P .. 'lsite', id)
end
return #expired
"""

# ARGV: worker name, heartbeat seconds. The worker is alive; returns {finished, live
# workers}: finished once the seeds are in, nothing is queued and no lease is out.
HEARTBEAT = _PRELUDE + """
redis.call('ZADD', P .. 'workers', now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', P .. 'workers', '-inf', now)
local finished = 0
if redis.call('HGET', P .. 'config', 'state') == 'finished' then
  finished = 1
elseif redis.call('HGET', P .. 'config', 'seeded') == '1'
    and tonumber(redis.call('GET', P .. 'queued') or '0') <= 0
    and redis.call('ZCARD', P .. 'leases') == 0 then
  redis.call('HSET', P .. 'config', 'state', 'finished')
  finished = 1
end
return {finished, redis.call('ZCARD', P .. 'workers')}
"""

# ARGV: worker name. It leaves; returns how many workers are still alive.
LEAVE = _PRELUDE + """
redis.call('ZREM', P .. 'workers', ARGV[1])
redis.call('ZREMRANGEBYSCORE', P .. 'workers', '-inf', now)
return redis.call('ZCARD', P .. 'workers')
"""
