"""The one selection rule: which agent's answer a task takes.

Fixed agent order: the first agent whose solution passes every visible test; if none does, the
one passing the most visible tests, ties going to the earlier agent. Visible tests only: hidden
tests never reach this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# -- selection -----------------------------------------------------------------------------------
@dataclass
class Selection:
    """The answer for one task, and every agent's result (None where an agent was not run)."""

    result: object                       # the selected decoding.Result
    agent: int                           # its index in the agent list
    results: list                        # Result | None per agent, in agent order
    rule: str                            # first_visible_pass | most_visible | no_visible_tests
    any_visible_pass: bool
    configs: list[str] = field(default_factory=list)
    cached: list[bool] = field(default_factory=list)

    @property
    def agents_run(self) -> int:
        return sum(r is not None for r in self.results)


def passes_visible(result) -> bool:
    return result is not None and result.visible_total > 0 and result.visible_passed == result.visible_total


def needed(results: list, index: int) -> bool:
    """Whether agent `index` can still be the answer: no earlier agent passes every visible test
    (the rule takes the first that does). Results are in agent order, None = not finished."""
    return not any(passes_visible(r) for r in results[:index])


def settled_at(results: list) -> int | None:
    """The index of the agent that settles the task, once it is decided whatever later agents do:
    the first visible pass with every earlier agent finished. None while undecided."""
    for i, r in enumerate(results):
        if r is None:
            return None
        if passes_visible(r):
            return i
    return None


def select(results: list, configs: list[str] | None = None, cached: list[bool] | None = None) -> Selection:
    """Apply the selection rule to per-agent results (None = not run)."""
    ran = [(i, r) for i, r in enumerate(results) if r is not None]
    if not ran:
        raise ValueError("no agent produced a result; nothing to select")
    any_pass = any(passes_visible(r) for _, r in ran)
    if any_pass:
        agent, rule = next(i for i, r in ran if passes_visible(r)), "first_visible_pass"
    elif all(r.visible_total == 0 for _, r in ran):
        agent, rule = ran[0][0], "no_visible_tests"
    else:
        best = max(r.visible_passed for _, r in ran)
        agent, rule = next(i for i, r in ran if r.visible_passed == best), "most_visible"
    return Selection(result=results[agent], agent=agent, results=list(results), rule=rule,
                     any_visible_pass=any_pass, configs=list(configs or []),
                     cached=list(cached or [False] * len(results)))
