from django.urls import path

from paas.git import views

urlpatterns = [
    path("<str:app_name>.git/info/refs", views.info_refs),
    path("<str:app_name>.git/git-receive-pack", views.receive_pack),
    path("<str:app_name>.git/git-upload-pack", views.upload_pack),
]
