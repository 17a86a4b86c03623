--- Dates: ISO 8601 date-times (Atlas's, and a caller's `since`/`until`) to Unix
-- seconds, and civil UTC dates to Unix seconds, never through the host's time zone.
local dates = {}

local floor = math.floor

--- Seconds since the epoch of a UTC civil date (days-from-civil).
function dates.utc_epoch(y, m, d, hh, mm, ss)
  y = m <= 2 and y - 1 or y
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * (m + (m > 2 and -3 or 9)) + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return ((era * 146097 + doe - 719468) * 86400) + hh * 3600 + mm * 60 + ss
end

local DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local function days_in(y, m)
  if m == 2 and (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then return 29 end
  return DAYS[m]
end

-- The zone's offset from UTC in seconds, or nil: "", "Z", "+hh:mm", "+hhmm" or "+hh".
local function zone_offset(zone)
  if zone == "" or zone == "Z" or zone == "z" then return 0 end
  local sign, hh, mm = zone:match("^([+-])(%d%d):?(%d%d)$")
  if not sign then
    sign, hh = zone:match("^([+-])(%d%d)$")
    mm = "00"
  end
  if not sign then return nil end
  hh, mm = tonumber(hh), tonumber(mm)
  if hh > 23 or mm > 59 then return nil end
  local offset = hh * 3600 + mm * 60
  return sign == "-" and -offset or offset
end

--- Unix seconds of an ISO 8601 date or date-time, or nil when `s` is not one.
-- Accepted: `YYYY-MM-DD` (midnight UTC) and `YYYY-MM-DDThh:mm[:ss[.fff]]` with
-- `Z`, `+hh:mm`, `+hhmm`, `+hh` or no zone (read as UTC); `T` may be a space.
function dates.parse(s)
  if type(s) ~= "string" then return nil end
  local y, m, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m < 1 or m > 12 or d < 1 or d > days_in(y, m) then return nil end
  local hh, mm, ss, fraction, zone = 0, 0, 0, 0, ""
  if rest ~= "" then
    local h, mi, tail = rest:match("^[T ](%d%d):(%d%d)(.*)$")
    if not h then return nil end
    hh, mm = tonumber(h), tonumber(mi)
    local sec, after = tail:match("^:(%d%d)(.*)$")
    if sec then
      ss, tail = tonumber(sec), after
      local digits, zone_part = tail:match("^[.,](%d+)(.*)$")
      if digits then fraction, tail = tonumber("0." .. digits), zone_part end
    end
    zone = tail
    if hh > 23 or mm > 59 or ss > 60 then return nil end
  end
  local offset = zone_offset(zone)
  if not offset then return nil end
  return dates.utc_epoch(y, m, d, hh, mm, ss) + fraction - offset
end

return dates
