-- The state setval() restores, for one sequence (the placeholder is its quoted name).
SELECT last_value, is_called FROM {sequence}
