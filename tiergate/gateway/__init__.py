"""The application: everything a request goes through between the HTTP edge and the upstreams.

Admission, the request pipeline (admit, complete, stream, finish), pricing and the request
trace, log rows, shadow calls, judged pairs, guarded rollouts, multi-call routes and the batch
item pipeline. Nothing here speaks HTTP: ``tiergate.server`` reads requests and writes
answers, batch jobs and evaluations call the same pipeline in process.
"""
