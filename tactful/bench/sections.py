"""The benchmark sections ``tactful bench`` runs, in the order it runs and reports them.

A section is one module that measures one thing and ends with a ``SECTION`` (:class:`tactful.bench.common.Section`):
its name, markdown title, options and renderer. Adding one is a new module and one line here.
"""

from __future__ import annotations

from tactful.bench import burst, capacity, classifier, economy, evalspeed, eventloop, growth, guards, load, overhead
from tactful.bench.common import Section

SECTIONS: tuple[Section, ...] = (
    overhead.SECTION,
    economy.SECTION,
    load.SECTION,
    burst.SECTION,
    eventloop.SECTION,
    evalspeed.SECTION,
    classifier.SECTION,
    growth.SECTION,
    capacity.SECTION,
    guards.SECTION,
)
BY_NAME = {s.name: s for s in SECTIONS}
