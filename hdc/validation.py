"""Checks shared by the package: the blur steps, and dataclasses read back from JSON."""

import dataclasses

STEPS = range(20)  # the HDC2021 blur steps, 0 (sharp) to 19 (extreme)


def parse_step(text):
    """The step from its text ("7"); ValueError naming the text unless it is an integer in `STEPS`."""
    try:
        step = int(text)
    except ValueError:
        raise ValueError(f"STEP must be an integer in {STEPS[0]}..{STEPS[-1]}, got {text!r}") from None
    if step not in STEPS:
        raise ValueError(f"STEP must be an integer in {STEPS[0]}..{STEPS[-1]}, got {step}")
    return step


def parse_steps(text):
    """Sorted distinct steps from "0-19", "3" or "0,2,5-7"; ValueError unless each is in `STEPS`."""
    steps = []
    for part in str(text).split(","):
        low, _, high = part.strip().partition("-")
        try:
            steps.extend(range(int(low), int(high or low) + 1))
        except ValueError:
            raise ValueError(f"steps must look like 0-19 or 3,5, got {text!r}") from None
    if not steps or any(step not in STEPS for step in steps):
        raise ValueError(f"steps must be in {STEPS[0]}..{STEPS[-1]}, got {text!r}")
    return sorted(set(steps))


def positive_integer_problems(record, names):
    """A message for each attribute of `record` in `names` that is not a positive integer (bools are not)."""
    problems = []
    for name in names:
        value = getattr(record, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"{name} must be a positive integer, got {value!r}")
    return problems


def dataclass_from_dict(cls, values, what):
    """`cls(**values)` after refusing keys that are not fields of the dataclass `cls` (ValueError naming them,
    `what` saying what the dict describes)."""
    unknown = set(values) - {field.name for field in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"unknown {what} keys: {sorted(unknown)}")
    return cls(**values)
