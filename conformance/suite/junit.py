"""`nndl conform --junit-xml`: the report as a JUnit XML file, the format CI servers read test results in.

One test suite per run; one test case per check, named by its configuration (the classname) and
by the check and the pair. A check that failed carries a <failure> with its figures and, with
--explain, the explanation; one where a backend's method raised, an <error> with its one line; an
n/a one is <skipped>, with the reason. GitHub Actions, GitLab and Jenkins show such a file as they
show any test suite.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from conformance.suite.engine import Outcome
from conformance.suite.results import Result


def to_junit_xml(outcome: Outcome) -> str:
    """The whole outcome as a JUnit XML document."""
    explanations = explanation_of_each(outcome.explanations)
    suite = ET.Element(
        "testsuite",
        name=f"nndl conform --{outcome.mode}",
        tests=str(len(outcome.results)),
        failures=str(sum(1 for result in outcome.failures if not result.error)),
        errors=str(sum(1 for result in outcome.failures if result.error)),
        skipped=str(len(outcome.results) - len(outcome.ran)),
    )
    for result in outcome.results:
        suite.append(_test_case(result, explanations.get(_heading(result), [])))
    if outcome.not_run:
        verdict = ET.SubElement(suite, "testcase", classname="verdict", name="every backend conforms")
        ET.SubElement(verdict, "failure", message="; ".join(outcome.not_run))
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _test_case(result: Result, explanation: list[str]) -> ET.Element:
    case = ET.Element("testcase", classname=result.case, name=f"{result.check}: {result.pair}")
    if result.not_applicable or result.chaotic:
        ET.SubElement(case, "skipped", message=result.not_applicable or result.chaotic)
    elif result.error:
        ET.SubElement(case, "error", message=result.error)
    elif not result.passed:
        figures = f"{result.value:.3e} against the bound {result.bound:.1e}"
        failure = ET.SubElement(case, "failure", message=f"{result.check}, {result.pair}: {figures}")
        failure.text = "\n".join(explanation) or "run nndl conform --explain for where the backends part"
    return case


def _heading(result: Result) -> str:
    """The line --explain writes above a result's explanation."""
    return f"{result.case} ({result.check}, {result.pair}):"


def explanation_of_each(lines: list[str]) -> dict[str, list[str]]:
    """--explain's lines grouped under the heading of the check they explain (their indent undone)."""
    grouped: dict[str, list[str]] = {}
    current = None
    for line in lines:
        if line.startswith("  ") and current is not None:
            grouped[current].append(line[2:])
        else:
            current = line
            grouped[current] = []
    return grouped
