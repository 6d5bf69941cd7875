-- wrk script: stop after WRK_LIMIT responses (default 1000). Used by bench/compare.sh to
-- put a bounded number of scrapes on a target (wrk itself only knows durations). With
-- several connections a few requests more than the limit may complete; compare.sh reads the
-- real count from wrk's "N requests in" line. wrk still waits out its -d duration.
local n = 0
local limit = tonumber(os.getenv("WRK_LIMIT") or "1000")

function response(status, headers, body)
  n = n + 1
  if n >= limit then
    wrk.thread:stop()
  end
end
