-- range.lua: GET pieces of a blob with Range requests, at offsets that
-- follow a fixed sequence (the same on every run). BENCH_BLOB_SIZE is the
-- blob's size and BENCH_RANGE_SIZE the size of each piece, in bytes.
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local report = require("report")

local blob_size = tonumber(os.getenv("BENCH_BLOB_SIZE"))
local piece = tonumber(os.getenv("BENCH_RANGE_SIZE"))
local pieces = math.floor(blob_size / piece)
local n = 0

request = function()
	-- A prime stride spreads consecutive n over the blob (exact in doubles up
	-- to 2^53, far past any run).
	local at = ((n * 40503) % pieces) * piece
	n = n + 1
	wrk.headers["Range"] = string.format("bytes=%d-%d", at, at + piece - 1)
	return wrk.format()
end

done = report.done
