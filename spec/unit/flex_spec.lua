-- The recorded Flex bodies, decoded field by field, and their unified shape.
local core = require "atlasrestore.core"
local flex = require "atlasrestore.shape"
local response = require "atlasrestore.response"

local compat = require "support.compat"
local fixture = require("support.fixtures").read

-- Atlas's Flex schema (FlexBackupRestoreJob20241113): every field a string.
local STRING_FIELDS = { "id", "instanceName", "projectId", "snapshotId", "snapshotFinishedDate", "restoreScheduledDate",
  "restoreFinishedDate", "expirationDate", "deliveryType", "status", "targetDeploymentItemName", "targetProjectId",
  "snapshotUrl" }
local DATE = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"

local function check_flex_job(job)
  for _, field in ipairs(STRING_FIELDS) do
    if job[field] ~= nil then assert.is_string(job[field], field) end
  end
  assert.matches("^%x+$", job.id)
  assert.equal(24, #job.id)
  assert.is_truthy(({ RESTORE = true, DOWNLOAD = true })[job.deliveryType])
  assert.is_truthy(({ PENDING = true, QUEUED = true, RUNNING = true, FAILED = true, COMPLETED = true })[job.status])
  for _, field in ipairs { "snapshotFinishedDate", "restoreScheduledDate", "expirationDate" } do
    assert.matches(DATE, job[field], 1, false)
  end
  assert.is_nil(job.links, "recorded Flex items carry no links")
end

describe("recorded Flex bodies", function()
  it("decode the completed job, field by field", function()
    local job = core.decode(fixture("flex_restore_job_get_200_completed"))
    check_flex_job(job)
    assert.equal("6a793f812c88faeba59bc399", job.id)
    assert.equal("RESTORE", job.deliveryType)
    assert.equal("COMPLETED", job.status)
    assert.equal("2026-08-10T03:04:32Z", job.restoreFinishedDate)
    assert.equal("2026-08-10T03:03:29Z", job.restoreScheduledDate)
    assert.equal("2026-08-02T17:06:56Z", job.snapshotFinishedDate)
    assert.equal("2026-08-10T09:03:29Z", job.expirationDate)
    assert.equal("snapshotCluster0", job.instanceName)
    assert.equal("b0123456789abcdef012345b", job.projectId)
    assert.equal("6a6f78e0cab84da5c4476b25", job.snapshotId)
    assert.equal("cluster-833", job.targetDeploymentItemName)
    assert.equal("b0123456789abcdef012345b", job.targetProjectId)
    assert.is_nil(job.snapshotUrl)
    local n = 0
    for _ in pairs(job) do n = n + 1 end
    assert.equal(12, n)
  end)

  it("decode the running and pending jobs, without restoreFinishedDate", function()
    for name, status in pairs { flex_restore_job_get_200_running = "RUNNING",
      flex_restore_job_create_200_pending = "PENDING" } do
      local job = core.decode(fixture(name))
      check_flex_job(job)
      assert.equal(status, job.status)
      assert.is_nil(job.restoreFinishedDate)
    end
  end)

  it("decode the 100-job list page", function()
    local page = assert(response.page(200, fixture("flex_restore_jobs_list_200"), { include_count = true }))
    assert.equal(100, #page.results)
    assert.equal(2160, page.totalCount)
    assert.equal("integer", compat.math_type(page.totalCount))
    assert.is_true(response.has_next(page))
    for _, job in ipairs(page.results) do check_flex_job(job) end
  end)

  it("map onto the seed's names with the unified shape", function()
    local wire = core.decode(fixture("flex_restore_job_get_200_completed"))
    local job = flex.mapper("flex")(wire)
    assert.equal("flex", job.source)
    assert.equal(wire, job.raw)
    assert.equal("cluster-833", job.targetClusterName)
    assert.equal("b0123456789abcdef012345b", job.targetGroupId)
    assert.equal("2026-08-10T09:03:29Z", job.expiresAt)
    assert.equal("2026-08-10T03:04:32Z", job.finishedAt)
    assert.equal("2026-08-02T17:06:56Z", job.timestamp)
    assert.equal("automated", job.deliveryType)
    assert.equal("COMPLETED", job.status)
    assert.is_false(job.failed)
    assert.is_nil(job.targetDeploymentItemName)
    assert.is_nil(job.deliveryUrl)
    local download = flex.mapper("flex") {
      id = "x", deliveryType = "DOWNLOAD", status = "FAILED", snapshotUrl = "https://d/1" }
    assert.same({ "https://d/1" }, download.deliveryUrl)
    assert.equal("download", download.deliveryType)
    assert.is_true(download.failed)
    assert.is_nil(download.snapshotUrl)
  end)

  it("never let a wire field replace source, raw or status", function()
    local job = flex.mapper("flex") { id = "x", source = "backup", raw = "x", status = "RUNNING" }
    assert.equal("flex", job.source)
    assert.equal("backup", job.raw.source)
    local s = flex.mapper("serverless") { id = "y", source = "backup", raw = "x", status = "odd", cancelled = true }
    assert.equal("serverless", s.source)
    assert.equal("CANCELLED", s.status)
    assert.equal("x", s.raw.raw)
  end)

  it("keep an unknown delivery type open, lowercased", function()
    assert.equal("point_in_time", flex.mapper("flex") { deliveryType = "POINT_IN_TIME" }.deliveryType)
  end)
end)

describe("serverless jobs in the unified shape", function()
  it("derive status in order and keep every wire field", function()
    local cases = {
      { { cancelled = true, failed = true, finishedAt = "t" }, "CANCELLED" },
      { { failed = true, expired = true }, "FAILED" },
      { { expired = true, finishedAt = "t" }, "EXPIRED" },
      { { finishedAt = "t" }, "COMPLETED" },
      { { cancelled = false, failed = false, expired = false }, "RUNNING" },
    }
    for _, case in ipairs(cases) do
      local job = flex.mapper("serverless")(case[1])
      assert.equal(case[2], job.status)
      assert.equal("serverless", job.source)
      assert.equal(case[1], job.raw)
      for k, v in pairs(case[1]) do assert.equal(v, job[k]) end
    end
  end)
end)

describe("include_count = false on a real body", function()
  it("drops the 0 that Atlas sends anyway", function()
    local body = fixture("events_list_200_includeCount_false")
    local doc = core.decode(body)
    assert.equal(0, doc.totalCount)
    assert.equal(71, #doc.results)
    -- The events list is not a restore-job page, but its envelope is the same.
    local page = assert(response.page(200, body, { include_count = false }))
    assert.is_nil(page.totalCount)
  end)
end)
