-- The first due date of the recurring series a task belongs to. Monthly and yearly rules
-- count from it, so a series due on the 31st comes back to the 31st after a shorter month
-- (Jan 31, Feb 28, Mar 31) instead of drifting to the 28th. NULL: the task starts its own
-- series, from its own due date (every existing row).
ALTER TABLE task ADD COLUMN recurrence_anchor DATE;
