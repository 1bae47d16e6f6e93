"""Background jobs on Redis with RQ (docs/jobs.md).

A job is a row of `jobs` written in the transaction that causes it (the outbox), pushed to
Redis only after that transaction commits, and run by `flask --app wsgi adal worker`. Without
ADAL_REDIS_URL the job runs inline right after the commit, so the demo needs no Redis.
"""
