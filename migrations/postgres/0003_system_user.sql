-- The built-in user policy actions are attributed to (SPEC §4). It cannot log in.
INSERT INTO users (uuid, username, first_name, is_active, is_system, date_joined)
VALUES ('00000000000000000000000000000001', 'system', 'System', 0, 1, 0);
