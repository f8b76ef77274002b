"""Static design checks with stable rule codes (`convplan check`): shape validity (CP1xx),
budgets (CP2xx), hardware fit (CP3xx) and design smells (CP4xx).

    from convplan.checks import check_paths
    for report in check_paths(["models/"]):
        for finding in report.findings:
            print(finding.path, finding.line, finding.code, finding.message)
"""

from convplan.checks.config import CheckConfig, apply_settings
from convplan.checks.registry import Finding, Rule, find_rule, load_rules
from convplan.checks.runner import FileReport, check_file, check_graph, check_paths

__all__ = ["CheckConfig", "FileReport", "Finding", "Rule", "apply_settings", "check_file",
           "check_graph", "check_paths", "find_rule", "load_rules"]
