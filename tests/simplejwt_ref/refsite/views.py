from rest_framework.decorators import api_view
from rest_framework.response import Response


@api_view(["GET"])
def hello(request):
    return Response({"message": "Hello, World!"})


@api_view(["GET"])
def whoami(request):
    """The user the app's own authentication found for the token."""
    return Response({"id": request.user.id, "username": request.user.username})
