"""Plan (pure): findings + evidence + exemptions -> changes and holds; the plan file."""
