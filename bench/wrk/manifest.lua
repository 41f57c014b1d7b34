-- manifest.lua: GET a manifest by tag the way docker and containerd ask for
-- it, with an Accept header listing the OCI and Docker schema 2 types.
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local report = require("report")

wrk.method = "GET"
wrk.headers["Accept"] = "application/vnd.oci.image.manifest.v1+json, " ..
	"application/vnd.docker.distribution.manifest.v2+json"

done = report.done
