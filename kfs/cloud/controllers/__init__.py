"""The cloud-controller-manager's controllers: node, node lifecycle, service.

Mirror ``k8s.io/cloud-provider/controllers/{node,nodelifecycle,service}``; each is a
``kfs.controllers.manager.Controller`` over shared informers, taking the cloud (a
``kfs.cloud.cloud.Interface``) as an argument.
"""
