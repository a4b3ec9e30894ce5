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

# shared by the scripts below: the clock, and each site's politeness. A site's policy and
# next allowed time are read once a call (many sites in one HMGET) and what changes of them
# and of the ready set is written once, at the end (`flush`): a call to Redis from Lua costs
# about as much as the command it runs
_PRELUDE = """
local P = KEYS[1]
local FOUND_KEPT = 100000  -- the newest URLs the found stream keeps (10 MB of 100-byte URLs)
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local pols, nexts = {}, {}  -- site -> {delay, concurrency}; site -> next allowed time
local stamped, ready_xx, ready_nx = {}, {}, {}  -- site -> time, written by flush
local function call_many(head, list)
  -- redis.call(head..., list...), in parts (Lua unpacks 8000 values at most); the replies
  -- (if lists) joined
  local got = {}
  for i = 1, #list, 4000 do
    local args = {unpack(head)}
    for j = i, math.min(i + 3999, #list) do args[#args + 1] = list[j] end
    local reply = redis.call(unpack(args))
    if type(reply) == 'table' then
      for _, v in ipairs(reply) do got[#got + 1] = v end
    end
  end
  return got
end
local function read(hash, cache, sites, parse)
  local need, asked = {}, {}
  for _, site in ipairs(sites) do
    if cache[site] == nil and not asked[site] then
      asked[site] = true
      need[#need + 1] = site
    end
  end
  if #need == 0 then return end
  local got = call_many({'HMGET', P .. hash}, need)
  for i, site in ipairs(need) do cache[site] = parse(got[i]) end
end
local function load(sites, with_policy)
  read('next', nexts, sites, function(v) return tonumber(v or '0') end)
  if with_policy then
    read('pol', pols, sites, function(v)
      local delay, conc = string.match(v or '0 1', '(%S+) (%S+)')
      return {tonumber(delay), tonumber(conc)}
    end)
  end
end
local function policy(site)
  load({site}, true)
  return pols[site][1], pols[site][2]
end
local function next_allowed(site)
  load({site})
  return nexts[site]
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
  nexts[site], stamped[site], ready_xx[site] = nxt, nxt, nxt
end
local function pairs_of(map)
  local out = {}
  for site, v in pairs(map) do
    out[#out + 1] = site
    out[#out + 1] = v
  end
  return out
end
local function flush()
  local next_, xx, nx = pairs_of(stamped), {}, {}
  for i = 2, #next_, 2 do next_[i] = tostring(next_[i]) end
  for site, at in pairs(ready_xx) do xx[#xx + 1] = at; xx[#xx + 1] = site end
  for site, at in pairs(ready_nx) do nx[#nx + 1] = at; nx[#nx + 1] = site end
  call_many({'HSET', P .. 'next'}, next_)
  call_many({'ZADD', P .. 'ready', 'XX'}, xx)
  call_many({'ZADD', P .. 'ready', 'NX'}, nx)
end
"""

# ARGV: lease seconds, most requests wanted. Returns {lease id, site, request, ...} for up to
# that many requests that may be fetched now (a site gives more than one only while it has
# no delay and a free slot), else {wait seconds} (how long until a site may be).
GRANT = _PRELUDE + """
local ttl, want = tonumber(ARGV[1]), tonumber(ARGV[2] or '1')
local most = 3 * want
local out, leases, lease, lsite = {}, {}, {}, {}
local seq  -- the last lease id taken: `most` of them are taken at the first grant
local sites = redis.call('ZRANGEBYSCORE', P .. 'ready', '-inf', now, 'LIMIT', 0, 64)
load(sites, true)
for _, site in ipairs(sites) do
  local delay, conc = pols[site][1], pols[site][2]
  local busy, held, n, first = P .. 'busy:' .. site, {}, nil, nil
  if nexts[site] > now then ready_xx[site] = nexts[site] end  -- ready again when it may be
  while #out < most and nexts[site] <= now do
    if n == nil then  -- requests in flight (an expired one is the reaper's)
      n = redis.call('ZCOUNT', busy, '(' .. now, '+inf')
      if n > 0 then
        first = tonumber(redis.call('ZRANGEBYSCORE', busy, '(' .. now, '+inf', 'WITHSCORES',
                                    'LIMIT', 0, 1)[2])
      end
    end
    if n >= conc then
      -- full: look again when its first request in flight would expire (a release is sooner)
      ready_xx[site] = first or now + ttl
      break
    end
    local request = redis.call('LPOP', P .. 'q:' .. site)
    if not request then
      redis.call('ZREM', P .. 'ready', site)
      ready_xx[site] = nil
      break
    end
    if seq == nil then seq = redis.call('INCRBY', P .. 'leaseseq', most) - most end
    seq = seq + 1
    local id = tostring(seq)
    leases[#leases + 1] = now + ttl
    leases[#leases + 1] = id
    lease[#lease + 1] = id
    lease[#lease + 1] = request
    lsite[#lsite + 1] = id
    lsite[#lsite + 1] = site
    held[#held + 1] = now + ttl
    held[#held + 1] = id
    n, first = n + 1, math.min(first or now + ttl, now + ttl)
    stamp(site, delay)
    out[#out + 1] = id
    out[#out + 1] = site
    out[#out + 1] = request
  end
  call_many({'ZADD', busy}, held)
  if #out >= most then break end
end
flush()
if #out > 0 then
  call_many({'ZADD', P .. 'leases'}, leases)
  call_many({'HSET', P .. 'lease'}, lease)
  call_many({'HSET', P .. 'lsite'}, lsite)
  redis.call('DECRBY', P .. 'queued', #out / 3)
  return out
end
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
flush()
return '0'
"""

# ARGV: site, lease id, for each of the fetches that left the downloader: their sites may
# be fetched again, one delay after the end of this fetch at the soonest (the delay holds
# from request to request whatever the fetch took, as Heritrix reads it)
RELEASE = _PRELUDE + """
local sites = {}
for i = 1, #ARGV, 2 do sites[#sites + 1] = ARGV[i] end
load(sites, true)
for i = 1, #ARGV, 2 do
  redis.call('ZREM', P .. 'busy:' .. ARGV[i], ARGV[i + 1])
  stamp(ARGV[i], pols[ARGV[i]][1])
end
redis.call('HINCRBY', P .. 'stats', 'fetched', #sites)
flush()
return 1
"""

# ARGV: site. A fetch made under a grant ended (robots.txt, before the page that waited for
# it): the site's next fetch waits a delay after it, the grant's slot still held
PACE = _PRELUDE + """
local delay = policy(ARGV[1])
redis.call('HINCRBY', P .. 'stats', 'fetched', 1)
stamp(ARGV[1], delay)
flush()
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
    ready_xx[site] = next_allowed(site)
  end
  if redis.call('ZREM', P .. 'leases', id) == 1 then
    redis.call('HINCRBY', P .. 'stats', 'done', 1)
  end
  redis.call('HDEL', P .. 'lease', id)
  redis.call('HDEL', P .. 'lsite', id)
end
local out, queues, sites, queued = {}, {}, {}, 0
for i = 2, #ARGV, 6 do sites[#sites + 1] = ARGV[i + 1] end
load(sites)
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
    if not queues[site] then queues[site] = {} end
    queues[site][#queues[site] + 1] = request
    queued = queued + 1
    ready_nx[site] = nexts[site]
  end
  out[#out + 1] = verdict
end
for site, requests in pairs(queues) do
  call_many({'RPUSH', P .. 'q:' .. site}, requests)
end
if queued > 0 then redis.call('INCRBY', P .. 'queued', queued) end
flush()
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
