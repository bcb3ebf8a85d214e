-- wrk script: POSTs the JSON bodies of the file given after `--` (one per line) to /v1/match in
-- turn, and prints one JSON line of totals and latency percentiles at the end.
local bodies = {}
local i = 0

init = function(args)
    for line in io.lines(args[1]) do
        bodies[#bodies + 1] = line
    end
end

request = function()
    i = i % #bodies + 1
    return wrk.format("POST", "/v1/match", { ["Content-Type"] = "application/json" }, bodies[i])
end

done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        '{"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n',
        summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
        latency:percentile(50), latency:percentile(99)))
end
