--- Live progress of a listing on stderr: pages, jobs and the rate on one line, redrawn at
-- most ten times a second, kept below any other message, and cleared at the end.
local progress = {}

local Progress = {}
Progress.__index = Progress

local REDRAW = 0.1 -- seconds between two redraws
local CLEAR = "\r\27[K" -- back to the start of the line, then erase to its end

--- A progress line on `stream`; `now` gives monotonic seconds. Disabled, every method does nothing.
function progress.new(stream, now, enabled)
  return setmetatable({ stream = stream, now = now, enabled = enabled, pages = 0, jobs = 0, start = now(),
    drawn = false, last = -math.huge }, Progress)
end

function Progress:draw(force)
  if not self.enabled then return end
  local t = self.now()
  if not force and t - self.last < REDRAW then return end
  self.last = t
  local elapsed = t - self.start
  local line = ("%satlasrestore: %d page%s"):format(CLEAR, self.pages, self.pages == 1 and "" or "s")
  if self.jobs then
    local rate = elapsed > 0 and self.jobs / elapsed or 0
    line = line .. (", %d job%s, %.0f jobs/s"):format(self.jobs, self.jobs == 1 and "" or "s", rate)
  end
  self.stream:write(line)
  self.stream:flush()
  self.drawn = true
end

--- A page arrived: always drawn, pages are few.
function Progress:page()
  self.pages = self.pages + 1
  self:draw(true)
end

--- The jobs arrive all at once at the end (a project listing): only pages are shown.
function Progress:pages_only()
  self.jobs = nil
end

--- `n` more jobs were listed.
function Progress:add(n)
  self.jobs = self.jobs + n
  self:draw()
end

--- Writes a message line on the stream, the progress line redrawn below it.
function Progress:message(line)
  if self.drawn then self.stream:write(CLEAR) end
  self.stream:write(line, "\n")
  if self.drawn then self:draw(true) end
end

--- Takes the line off the terminal until the next redraw: data goes to the same terminal.
function Progress:hide()
  if self.drawn then
    self.stream:write(CLEAR)
    self.drawn = false
  end
end

--- Erases the progress line: the listing is over.
function Progress:clear()
  if self.drawn then
    self.stream:write(CLEAR)
    self.stream:flush()
    self.drawn = false
  end
  self.enabled = false
end

return progress
