"""A stand-in for the `openevolve` package inside the sandbox, so OpenEvolve evaluators run unchanged.

OpenEvolve evaluators do `from openevolve.evaluation_result import EvaluationResult`; OpenEvolve itself
is not installed (and must not be needed) where selftaught runs them. Only that module is provided.
"""
