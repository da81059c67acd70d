"""The Pulumi side that belongs to no one platform: what __main__.py, both adapters and `make plan` share.

  stack_config.py  the engine's config → Settings (the program's side of settings.load_settings)
  tls.py           the cluster's CA and server certificates (pulumi-tls), placed by AWS and Docker alike
  recording.py     the recording mocks scripts/plan.py runs the program under

Everything in components/*.py is plain Python; Pulumi is imported only here, in components/aws/ and in
components/docker/.
"""
