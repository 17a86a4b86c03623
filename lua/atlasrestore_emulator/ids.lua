--- The emulator's fixed job ids, read by the nginx side (polling.lua) and by the
-- starter (atlasrestore_emulator): plain data, loadable from either.
return {
  -- The jobs that finish after job_polls GETs, by source and outcome; serverless
  -- ones on `polling`, Flex ones on `flex-polling`, dedicated ones on `dedicated-0`.
  polling = {
    serverless = {
      completes = "6a7c1e5f2c88faeba59d0101", fails = "6a7c1e5f2c88faeba59d0102",
      cancelled = "6a7c1e5f2c88faeba59d0103", expired = "6a7c1e5f2c88faeba59d0104",
    },
    flex = {
      completes = "6a7c1e5f2c88faeba59d0201", fails = "6a7c1e5f2c88faeba59d0202",
      cancelled = "6a7c1e5f2c88faeba59d0203", expired = "6a7c1e5f2c88faeba59d0204",
    },
    dedicated = {
      completes = "6a7c1e5f2c88faeba59d0301", fails = "6a7c1e5f2c88faeba59d0302",
      cancelled = "6a7c1e5f2c88faeba59d0303", expired = "6a7c1e5f2c88faeba59d0304",
    },
  },
}
