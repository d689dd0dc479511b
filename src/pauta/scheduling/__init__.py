"""When flows run: schedules and triggers (pure evaluation, time passed in), run creation."""
