-- The installed emulator starter (atlasrestore_emulator) with what only the specs need: the
-- starter's shell and nginx helpers under the names the specs use, clean_env for every command a
-- spec spawns, and on each started emulator a client of the module and the paths of its endpoints.
local starter = require "atlasrestore_emulator"
local nginx = require "atlasrestore_emulator.nginx"

local M = setmetatable({}, { __index = starter })

M.sh_quote, M.read_file, M.write_file, M.capture, M.render = nginx.sh_quote, nginx.read_file, nginx.write_file,
  nginx.capture, nginx.render
M.free_ports, M.start_nginx, M.stop_nginx, M.nginx_vars = nginx.free_ports, nginx.start, nginx.stop, nginx.vars

-- `make asan` preloads the sanitizer runtime into the lua5.4 under test only.
-- Child commands (nginx, openssl, curl, python3, coreutils, another lua5.4)
-- must not inherit it: they are not ours and LeakSanitizer aborts on their
-- leaks.  Every command a spec spawns goes through clean_env().
M.clean_env_prefix = nginx.SHELL_PREFIX
M.clean_env = nginx.shell

local Spec = {}

--- A client of the module pointed at this emulator: its API key, quick
-- retries, warnings silenced. `extra` overrides; a service account or an
-- access token in `extra` replaces the key.
function Spec:client(extra)
  local opts = {
    base_url = self.base_url, public_key = self.public_key, private_key = self.private_key,
    on_warning = function() end, retry_base_delay = 0.01, retry_max_delay = 0.05,
  }
  for k, v in pairs(extra or {}) do opts[k] = v end
  if opts.client_id or opts.access_token then opts.public_key, opts.private_key = nil, nil end
  -- Not assert(new(...)): Lua 5.1's assert refuses an error table as its message.
  local client, err = require("atlasrestore").new(opts)
  if not client then error(tostring(err), 2) end
  return client
end

-- Path of a restore-job list; version "v2" (default) or "v1.0".
function Spec:serverless_path(name, version, group)
  return string.format("/api/atlas/%s/groups/%s/serverless/%s/backup/restoreJobs",
    version or "v2", group or self.group_id, name)
end

function Spec:flex_path(name, group)
  return string.format("/api/atlas/v2/groups/%s/flexClusters/%s/backup/restoreJobs", group or self.group_id, name)
end

-- Restore jobs of a dedicated cluster; version "v2" (default) or "v1.0".
function Spec:dedicated_path(name, version, group)
  return string.format("/api/atlas/%s/groups/%s/clusters/%s/backup/restoreJobs",
    version or "v2", group or self.group_id, name)
end

-- An instance list: kind "serverless", "flexClusters" or "clusters".
function Spec:instances_path(kind, group, version)
  return string.format("/api/atlas/%s/groups/%s/%s", version or "v2", group or self.group_id, kind)
end

function Spec:url(path)
  return self.base_url .. path
end

local function with_spec_methods(emu)
  for name, method in pairs(Spec) do emu[name] = method end
  return emu
end

--- starter.start(opts), with the methods above on the emulator it returns.
function M.start(opts)
  return with_spec_methods(starter.start(opts))
end

--- starter.with(opts, fn): fn(emu) with a fresh emulator, always stopped.
function M.with(opts, fn)
  return starter.with(opts, function(emu) return fn(with_spec_methods(emu)) end)
end

return M
