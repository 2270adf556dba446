"""Nodes are installation-wide: a superuser lists them and gets the join command; nobody else."""

import pytest
from django.contrib.auth import get_user_model

from paas.core import nodes
from paas.errors import Forbidden


@pytest.mark.django_db
def test_a_superuser_lists_the_nodes_with_their_tasks():
    admin = get_user_model().objects.create_superuser("admin-owner", password="x")
    (node,) = nodes.list_nodes(admin)
    assert node.role == "manager" and node.availability == "active"
    assert nodes.join_command(admin).startswith("docker swarm join --token ")


@pytest.mark.django_db
def test_a_plain_user_sees_no_nodes_and_no_join_token():
    outsider = get_user_model().objects.create_user("outsider", password="x")
    with pytest.raises(Forbidden):
        nodes.list_nodes(outsider)
    with pytest.raises(Forbidden):
        nodes.join_command(outsider)
