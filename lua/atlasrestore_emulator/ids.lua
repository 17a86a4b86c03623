--- The emulator's fixed ids (polling jobs, organisations, the projects added with
-- them) and test credentials, read by the nginx side (polling.lua, auth.lua,
-- projects.lua) and by the starter (atlasrestore_emulator): plain data, loadable from either.
return {
  -- The one API key and the one service account it accepts: fixed test values, not secrets.
  credentials = {
    public_key = "emupublic", private_key = "emu-private-7d0c2e6b-secret",
    client_id = "mdb_sa_id_emu0001", client_secret = "mdb_sa_sk_emu-secret-91f2",
  },
  -- The organisations. `main` holds the first projects (GROUP_ID, MIXED_GROUP_ID,
  -- EMPTY_GROUP_ID); `team` two small projects for organisation listings; `bench`
  -- the big project, which GET /groups leaves out so that a listing of every
  -- project stays small; `fleet` the generated projects of the `fleet` setting.
  orgs = {
    main = "65a1b2c3d4e5f60718293b00", team = "65a1b2c3d4e5f60718293b01",
    bench = "65a1b2c3d4e5f60718293b02", fleet = "65a1b2c3d4e5f60718293b03",
  },
  team_projects = { alpha = "65a1b2c3d4e5f60718293a6a", beta = "65a1b2c3d4e5f60718293a6b" },
  -- A fleet project's id: this prefix, then its 1-based number as 8 hex digits.
  fleet_prefix = "65f1ee7000000000",
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
