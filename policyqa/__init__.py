"""policyqa: Chinese-language semantic search and cited Q&A over policy reports.

The project keeps its top-level folders (index/, service/, eval/), installed
under this one namespace by `package-dir` in pyproject.toml, so that nothing
is imported as a bare `index`, `service` or `eval`:

- policyqa.index   (index/)    the library: ingest, chunking, the index, search, answers
- policyqa.service (service/)  the command line and the HTTP service
- policyqa.eval    (eval/)     evaluation, benchmarks and model fitting
"""

__version__ = "0.1.0"
