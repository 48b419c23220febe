"""The personal token page (/account/tokens): a signed-in user makes, sees and revokes their own API tokens.

A new token is shown once, in the answer to the form that made it (never stored, never redirected through
the session), with `Cache-Control: no-store`. Any signed-in user may have tokens: a token reads only what
its user may read (contacts.readapi.access), so it gives nobody more than their session does.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from .models import ApiToken

# A user's live tokens at most: each is a standing key to their account.
MAX_TOKENS = 20


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text='What will use it, e.g. "Floor 2 wall board script".')


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    live = ApiToken.objects.filter(user=request.user, revoked_at__isnull=True)
    form, created, status = TokenForm(request.POST or None), None, 200
    if form.is_bound and form.is_valid():
        if live.count() >= MAX_TOKENS:
            form.add_error(None, f"You have {MAX_TOKENS} tokens already: revoke one first.")
        else:
            token, plaintext = ApiToken.create(request.user, form.cleaned_data["name"])
            created, form, status = {"token": token, "plaintext": plaintext}, TokenForm(), 201
    context = {
        "form": form,
        "created": created,
        "tokens": ApiToken.objects.filter(user=request.user),
        "queues_url": request.build_absolute_uri(reverse("readapi-queues")),
        "docs_url": reverse("readapi-docs"),
    }
    return render(request, "readapi/tokens.html", context, status=status)


@login_required
@require_POST
def revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    # Only one's own: another user's token is no token here (404).
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    if token.revoke():
        messages.success(request, f"Revoked {token.name}: it reads nothing from now on.")
    return redirect("readapi-tokens")
