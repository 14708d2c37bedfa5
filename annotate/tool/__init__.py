"""The local web tool people annotate with: HTTP (`server`, `bodies`), one session's queue and
saves without any HTTP (`session`), what is saved (`store`), which characters (`catalog`), the
geometric suggestion (`suggest`) and what an earlier render flagged (`qa_flags`)."""
