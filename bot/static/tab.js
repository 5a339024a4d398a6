// The board tab (bot/tab.py): sign in with Teams single sign-on, swap the Teams token for a
// link of the person's own to the board, and open it here. Anything that goes wrong ends in
// one sentence saying what to do instead; the token is never shown or kept.
"use strict";
(function () {
  var status = document.getElementById("status");
  var INSTEAD = "type board in your chat with PerfBot for a link to the board.";
  var done = false;

  function say(text) {
    if (done) {
      return;
    }
    done = true;
    status.textContent = text;
  }

  var OUTSIDE = "This page opens as PerfBot's Board tab in Teams; outside Teams, " + INSTEAD;
  if (!window.microsoftTeams) {
    say(OUTSIDE);
    return;
  }
  var teams = window.microsoftTeams;
  // Teams answers in a second or two; a host that never does gets the sentence anyway.
  var patience = window.setTimeout(function () {
    say("Teams did not sign you in to PerfBot in time: " + INSTEAD);
  }, 15000);

  teams.app
    .initialize()
    .then(
      function () {
        return teams.authentication.getAuthToken();
      },
      function () {
        // not in a Teams frame (nor Teams' mobile app): the library says so at once
        throw new Error(OUTSIDE);
      }
    )
    .then(
      function (token) {
        return window.fetch("tab/session", {
          method: "POST",
          headers: { Authorization: "Bearer " + token },
          credentials: "omit",
          cache: "no-store",
        });
      },
      function (error) {
        if (error && error.message === OUTSIDE) {
          throw error;
        }
        throw new Error("Teams could not sign you in to PerfBot: " + INSTEAD);
      }
    )
    .then(function (answer) {
      return answer.json().then(function (body) {
        if (answer.ok && body && typeof body.url === "string") {
          window.clearTimeout(patience);
          done = true;
          window.location.replace(body.url);
          return;
        }
        throw new Error((body && body.error) || "PerfBot could not open the board: " + INSTEAD);
      });
    })
    .catch(function (error) {
      window.clearTimeout(patience);
      var text = error && error.message;
      say(text && /PerfBot/.test(text) ? text : "PerfBot could not sign you in: " + INSTEAD);
    });
})();
