--- One record shape for both endpoints, used by `endpoint = "auto"`.
-- Every job carries the seed's (serverless) field names, plus `status`
-- (one vocabulary for both sources), `source` and `raw` (the wire record).
local flex = {}

--- Flex wire name -> serverless wire name. The README's mapping table mirrors this.
flex.RENAMED = {
  targetDeploymentItemName = "targetClusterName",
  targetProjectId = "targetGroupId",
  expirationDate = "expiresAt",
  restoreFinishedDate = "finishedAt",
  snapshotFinishedDate = "timestamp",
}

flex.DELIVERY_TYPES = { RESTORE = "automated", DOWNLOAD = "download" }

--- The status of a serverless job, derived in this order.
function flex.serverless_status(job)
  if job.cancelled == true then return "CANCELLED" end
  if job.failed == true then return "FAILED" end
  if job.expired == true then return "EXPIRED" end
  if job.finishedAt ~= nil then return "COMPLETED" end
  return "RUNNING"
end

-- The module's own fields are set last: a wire field of the same name never
-- replaces them (the wire value stays in `raw`).
function flex.from_serverless(job)
  local record = {}
  for k, v in pairs(job) do record[k] = v end
  record.status, record.source, record.raw = flex.serverless_status(job), "serverless", job
  return record
end

function flex.from_flex(job)
  local record = {}
  for k, v in pairs(job) do record[flex.RENAMED[k] or k] = v end
  if job.snapshotUrl ~= nil then
    record.snapshotUrl = nil
    record.deliveryUrl = { job.snapshotUrl }
  end
  if type(job.deliveryType) == "string" then
    record.deliveryType = flex.DELIVERY_TYPES[job.deliveryType] or job.deliveryType:lower()
  end
  if job.status ~= nil then record.failed = job.status == "FAILED" end
  record.source, record.raw = "flex", job
  return record
end

return flex
