-- The sans-IO response decoder: every hostile or broken body gives a clear
-- error value with its status kept, never a raise.
local response = require "atlasrestore.response"

local compat = require "support.compat"
local it_int64, it_doubles = compat.it_for("int64"), compat.it_for("doubles")
local fixtures = require "support.fixtures"

local JOB = '{"id":"5f0000000000000000000001","deliveryType":"automated","targetClusterName":"c",'
  .. '"targetGroupId":"65a1b2c3d4e5f60718293a4b"}'

local function page_of(jobs_json, extra)
  return '{"links":[{"href":"https://x/","rel":"self"}],"results":[' .. jobs_json .. ']' .. (extra or "") .. '}'
end

describe("response.page with hostile bodies", function()
  local cases = {
    { "an HTML page from a proxy", "<html><body><h1>502 Bad Gateway</h1></body></html>" },
    { "an empty body", "" },
    { "truncated JSON", page_of(JOB):sub(1, 60) },
    { "invalid UTF-8", page_of('{"id":"\255\254"}') },
    { "a top level array", "[" .. JOB .. "]" },
    { "a top level null", "null" },
    { "a top level string", '"results"' },
    { "results that is an object", '{"results":{}}' },
    { "results that is a string", '{"results":"none"}' },
    { "no results at all", '{"links":[],"totalCount":3}' },
    { "a totalCount that is a string", page_of(JOB, ',"totalCount":"x"') },
    { "a negative totalCount", page_of(JOB, ',"totalCount":-1') },
    { "a fractional totalCount", page_of(JOB, ',"totalCount":1.5') },
    { "a job that is a number", page_of("42") },
    { "a job that is an array", page_of("[1,2]") },
    { "a job that is null", page_of("null") },
    { "an oplogTs that is not integral", page_of('{"id":"a","oplogTs":1199145600.5}') },
    { "an oplogInc past 64 bits", page_of('{"id":"a","oplogInc":9223372036854775808}') },
    { "a pointInTimeUTCSeconds of 1e20", page_of('{"id":"a","pointInTimeUTCSeconds":1e20}') },
    { "an oplogTs that is a string", page_of('{"id":"a","oplogTs":"1199145600"}') },
    { "a desiredTimestamp that is a string", page_of('{"id":"a","desiredTimestamp":"2025-01-01"}') },
    { "an increment that is fractional", page_of('{"id":"a","desiredTimestamp":{"increment":1.25}}') },
    { "links that is an object", '{"results":[],"links":{"rel":"next"}}' },
    { "deep nesting", page_of('{"id":"a","x":' .. ("["):rep(100000) .. ("]"):rep(100000) .. "}") },
    { "trailing garbage", page_of(JOB) .. "}" },
    { "two documents", page_of(JOB) .. page_of(JOB) },
    { "NaN", page_of('{"id":"a","oplogTs":NaN}') },
  }
  for _, case in ipairs(cases) do
    it("gives BAD_RESPONSE for " .. case[1], function()
      local page, err = response.page(200, case[2], {})
      assert.is_nil(page)
      assert.equal("BAD_RESPONSE", err.errorCode)
      assert.equal(200, err.status)
      assert.is_string(err.message)
      assert.matches("^atlasrestore: BAD_RESPONSE %(HTTP 200%): ", tostring(err))
    end)
  end

  it("lets the last of duplicate keys win", function()
    local page = assert(response.page(200, '{"results":[{"id":"first","id":"second"}],"results2":1}', {}))
    assert.equal("second", page.results[1].id)
  end)

  it("decodes a job with a 10 MB string", function()
    local big = ("x"):rep(10 * 1024 * 1024)
    local page = assert(response.page(200, page_of('{"id":"a","note":"' .. big .. '"}'), {}))
    assert.equal(#big, #page.results[1].note)
  end)

  it("accepts integral values in any notation", function()
    local page = assert(response.page(200, page_of('{"id":"a","oplogTs":1.1991456e+09,"oplogInc":1.0,'
      .. '"pointInTimeUTCSeconds":9007199254740991,"desiredTimestamp":{"increment":11991456E2}}',
      ',"totalCount":2e0'), {}))
    local job = page.results[1]
    assert.equal(1199145600, job.oplogTs)
    assert.equal("integer", compat.math_type(job.oplogTs))
    assert.equal("integer", compat.math_type(job.oplogInc))
    assert.equal(2 ^ 53 - 1, job.pointInTimeUTCSeconds)
    assert.equal("integer", compat.math_type(job.pointInTimeUTCSeconds))
    assert.equal("integer", compat.math_type(job.desiredTimestamp.increment))
    assert.equal("integer", compat.math_type(page.totalCount))
  end)

  it_int64("accepts integers up to 64 bits", function()
    local page = assert(response.page(200, page_of('{"id":"a","oplogTs":9007199254740993,'
      .. '"pointInTimeUTCSeconds":9223372036854775807,"desiredTimestamp":{"increment":-9223372036854775808}}',
      ',"totalCount":9.007199254740993e15'), {}))
    local job = page.results[1]
    assert.equal("9007199254740993", ("%d"):format(job.oplogTs))
    assert.equal(math.maxinteger, job.pointInTimeUTCSeconds)
    assert.equal(math.mininteger, job.desiredTimestamp.increment)
    assert.equal("integer", math.type(page.totalCount))
    assert.equal("9007199254740993", ("%d"):format(page.totalCount))
  end)

  -- Where numbers are only doubles, 2^53 + 1 arrives as 2^53: an integer field past
  -- 2^53 - 1 may already be wrong, so the page is refused rather than listed rounded.
  it_doubles("gives BAD_RESPONSE for an integer field past 2^53 - 1", function()
    local values = { "9007199254740992", "9007199254740993", "-9007199254740993", "9223372036854775807",
      "1e18" }
    for _, value in ipairs(values) do
      for _, field in ipairs(response.INTEGER_FIELDS) do
        local page, err = response.page(200, page_of('{"id":"a","' .. field .. '":' .. value .. '}'), {})
        assert.is_nil(page, field .. " " .. value)
        assert.equal("BAD_RESPONSE", err.errorCode)
        assert.matches("results%[1%]%." .. field .. " is not an integer within", err.message)
      end
      local page, err = response.page(200, page_of('{"id":"a","desiredTimestamp":{"increment":' .. value .. '}}'), {})
      assert.is_nil(page, "increment " .. value)
      assert.equal("BAD_RESPONSE", err.errorCode)
      assert.is_nil(response.page(200, page_of(JOB, ',"totalCount":' .. value), {}), "totalCount " .. value)
    end
    assert.is_table(response.page(200, page_of('{"id":"a","oplogTs":-9007199254740991}'), {}))
  end)

  -- The rule of every Lua: an integer field holds an integer in the text. Where numbers are
  -- doubles, 1e-400 rounds to 0 and 1199145600.0000000000000000001 to 1199145600, both integral.
  it("gives BAD_RESPONSE on every Lua for an integer field whose text is not an integer", function()
    local values = { "1E-400", "1199145600.0000000000000000001", "0.5", "1.5e0", "-1e-5" }
    for _, value in ipairs(values) do
      for _, field in ipairs(response.INTEGER_FIELDS) do
        local page, err = response.page(200, page_of('{"id":"a","' .. field .. '":' .. value .. '}'), {})
        assert.is_nil(page, field .. " " .. value)
        assert.equal("BAD_RESPONSE", err.errorCode)
        assert.matches("results%[1%]%." .. field .. " is not an? ", err.message)
        local job
        job, err = response.entity(200, '{"id":"a","' .. field .. '":' .. value .. '}', {})
        assert.is_nil(job, "entity " .. field .. " " .. value)
        assert.equal("BAD_RESPONSE", err.errorCode)
      end
      local page, err = response.page(200, page_of('{"id":"a","desiredTimestamp":{"increment":' .. value .. '}}'), {})
      assert.is_nil(page, "increment " .. value)
      assert.matches("desiredTimestamp.increment is not", err.message, 1, true)
      assert.is_nil(response.page(200, page_of(JOB, ',"totalCount":' .. value), {}), "totalCount " .. value)
    end
    -- Integers in any notation stay integers; other fields keep the nearest double.
    local page = assert(response.page(200, page_of('{"id":"a","oplogTs":1.1991456e+09,"oplogInc":1.0,'
      .. '"pointInTimeUTCSeconds":11991456E2,"size":1E-400,"ratio":0.5}'), {}))
    local job = page.results[1]
    assert.equal(1199145600, job.oplogTs)
    assert.equal(1, job.oplogInc)
    assert.equal(1199145600, job.pointInTimeUTCSeconds)
    assert.equal(0, job.size)
    assert.equal("number", type(job.size))
    assert.equal(0.5, job.ratio)
  end)

  it("turns null into nil and keeps unknown fields", function()
    local page = assert(response.page(200, page_of('{"id":"a","finishedAt":null,"createdAt":"2026-01-01T00:00:00Z"}'),
      {}))
    assert.is_nil(page.results[1].finishedAt)
    assert.equal("2026-01-01T00:00:00Z", page.results[1].createdAt)
  end)

  it("drops totalCount only when include_count is false", function()
    local body = page_of(JOB, ',"totalCount":0')
    assert.is_nil(assert(response.page(200, body, { include_count = false })).totalCount)
    assert.equal(0, assert(response.page(200, body, {})).totalCount)
  end)

  it("sees a next link only when one is there", function()
    assert.is_false(response.has_next(assert(response.page(200, page_of(JOB), {}))))
    local with_next = '{"results":[],"links":[{"rel":"self","href":"a"},{"rel":"next","href":"b"}]}'
    assert.is_true(response.has_next(assert(response.page(200, with_next, {}))))
  end)

  it("decodes the recorded Flex list, field by field", function()
    local page = assert(response.page(200, fixtures.read("flex_restore_jobs_list_200"), {}))
    assert.equal(100, #page.results)
    assert.equal(2160, page.totalCount)
    assert.is_true(response.has_next(page))
    for _, job in ipairs(page.results) do
      assert.matches("^%x+$", job.id)
      assert.is_nil(job.links)
    end
  end)
end)

describe("response.error", function()
  it("reads Atlas's ApiError", function()
    local err = response.error(404, {}, fixtures.read("unexpected_error_404_parameters_null"))
    assert.equal("UNEXPECTED_ERROR", err.errorCode)
    assert.equal(404, err.status)
    assert.is_nil(err.parameters, "parameters: null is nil")
    assert.is_string(err.detail)
  end)

  it("reads the pretty-printed Digest challenge body", function()
    local err = response.error(401, {}, fixtures.read("digest_401_challenge"))
    assert.equal("UNEXPECTED_ERROR", err.errorCode)
    assert.equal("Unauthorized", err.reason)
  end)

  it("reads the OAuth shape", function()
    local body = '{"error":"invalid_client","error_description":"Invalid credentials provided."}'
    local err = response.error(401, {}, body)
    assert.equal("invalid_client", err.errorCode)
    assert.equal("Invalid credentials provided.", err.detail)
  end)

  it("falls back to X-Error-Code, then to HTTP_<status>", function()
    local html = "<html>Service Unavailable</html>"
    assert.equal("RATE_LIMITED", response.error(429, { ["x-error-code"] = "RATE_LIMITED" }, html).errorCode)
    local err = response.error(503, {}, html)
    assert.equal("HTTP_503", err.errorCode)
    assert.equal(503, err.status)
    assert.equal("HTTP_502", response.error(502, {}, "").errorCode)
    assert.equal("HTTP_500", response.error(500, {}, "[1,2]").errorCode)
  end)

  it("keeps badRequestDetail and mixed parameters", function()
    local err = response.error(400, {}, '{"error":400,"errorCode":"VALIDATION_ERROR","parameters":["a",55],'
      .. '"badRequestDetail":{"fields":[{"field":"itemsPerPage","description":"too big"}]}}')
    assert.equal("itemsPerPage", err.badRequestDetail.fields[1].field)
    assert.equal(55, err.parameters[2])
  end)

  it("takes the envelope's status", function()
    local err = response.error(200, {}, '{"status":404,"errorCode":"RESOURCE_NOT_FOUND"}', { envelope = true })
    assert.equal(404, err.status)
    err = response.error(200, {}, '{"status":401,"content":{"error":401,"errorCode":"UNEXPECTED_ERROR"}}',
      { envelope = true })
    assert.equal("UNEXPECTED_ERROR", err.errorCode)
    assert.equal(401, err.status)
  end)

  it("reads an error out of an enveloped 200", function()
    local page, err = response.page(200, '{"status":404,"error":404,"errorCode":"SERVERLESS_INSTANCE_NOT_FOUND",'
      .. '"detail":"nope"}', { envelope = true })
    assert.is_nil(page)
    assert.equal("SERVERLESS_INSTANCE_NOT_FOUND", err.errorCode)
    assert.equal(404, err.status)
    page, err = response.page(200, '{"status":503,"content":"<html>"}', { envelope = true })
    assert.is_nil(page)
    assert.equal("HTTP_503", err.errorCode)
    assert.equal(200, response.page(200, '{"status":200,"results":[]}', { envelope = true }).status)
  end)
end)

describe("response.retry_after", function()
  it("reads seconds and HTTP dates", function()
    assert.equal(7, response.retry_after({ ["retry-after"] = "7" }))
    local now = 1445412480 -- Wed, 21 Oct 2015 07:28:00 GMT
    assert.equal(0, response.retry_after({ ["retry-after"] = "Wed, 21 Oct 2015 07:28:00 GMT" }, nil, now))
    assert.equal(90, response.retry_after({ ["retry-after"] = "Wed, 21 Oct 2015 07:29:30 GMT" }, nil, now - 0))
    assert.is_nil(response.retry_after({ ["retry-after"] = "soon" }))
  end)

  it("falls back to a RATE_LIMITED_TOKEN_BUCKET body", function()
    local err = response.error(429, {}, '{"detail":"Rate limit exceeded for api/atlas/v2/orgs. Please retry after '
      .. '55 seconds. Request capacity: 10.","error":429,"errorCode":"RATE_LIMITED_TOKEN_BUCKET",'
      .. '"parameters":["api/atlas/v2/orgs",55,10,5,60]}')
    assert.equal(55, response.retry_after({}, err))
    err.detail = nil
    assert.equal(55, response.retry_after({}, err))
    assert.is_nil(response.retry_after({}, response.error(429, {}, "")))
  end)
end)
