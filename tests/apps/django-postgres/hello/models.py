from django.db import models


class Greeting(models.Model):
    when = models.DateTimeField("date created", auto_now_add=True)
    text = models.CharField(max_length=40, default="hello")

    def __str__(self) -> str:
        return self.text
