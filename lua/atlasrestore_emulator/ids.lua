--- The emulator's fixed job ids and test credentials, read by the nginx side (polling.lua, auth.lua)
-- and by the starter (atlasrestore_emulator): plain data, loadable from either.
return {
  -- The one API key and the one service account it accepts: fixed test values, not secrets.
  credentials = {
    public_key = "emupublic", private_key = "emu-private-7d0c2e6b-secret",
    client_id = "mdb_sa_id_emu0001", client_secret = "mdb_sa_sk_emu-secret-91f2",
  },
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
