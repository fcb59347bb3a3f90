/// The dashboard's only script, embedded: a run page of a run still going watches the run's
/// server-sent events, turns each resource's row to its outcome as it settles and adds each
/// progress line to the log as it is said. Everything it
/// writes goes in as text (never markup). Pages work without it: reloading shows the same.
enum LiveScript {
    static let javascript = """
        (function () {
          "use strict";
          var section = document.querySelector("[data-live-run]");
          if (!section || !window.EventSource) { return; }
          var run = section.getAttribute("data-live-run");
          var body = section.querySelector("tbody");
          var status = section.querySelector("[role=status]");
          var log = section.querySelector("[data-live-log]");
          var source = new EventSource("/runs/" + encodeURIComponent(run) + "/events");
          function cell(row, index) {
            while (row.cells.length <= index) { row.insertCell(-1); }
            return row.cells[index];
          }
          function badge(word) {
            var span = document.createElement("span");
            span.className = "badge " + word.replace(/ /g, "-");
            span.textContent = word;
            return span;
          }
          source.addEventListener("resource", function (message) {
            var event = JSON.parse(message.data);
            var row = null;
            for (var index = 0; index < body.rows.length; index++) {
              if (body.rows[index].getAttribute("data-resource") === event.id) { row = body.rows[index]; }
            }
            if (!row) {
              row = body.insertRow(-1);
              row.setAttribute("data-resource", event.id);
              var code = document.createElement("code");
              code.textContent = event.id;
              cell(row, 0).appendChild(code);
              cell(row, 1).textContent = event.kind;
            }
            row.setAttribute("data-outcome", event.outcome);
            var outcome = cell(row, 2);
            outcome.textContent = "";
            outcome.appendChild(badge(event.outcome));
            cell(row, 3).textContent = event.reason || "";
            status.textContent = event.id + " " + event.outcome;
          });
          source.addEventListener("log", function (message) {
            var item = document.createElement("li");
            var code = document.createElement("code");
            code.textContent = JSON.parse(message.data).line;
            item.appendChild(code);
            log.appendChild(item);
          });
          source.addEventListener("ended", function (message) {
            var event = JSON.parse(message.data);
            source.close();
            section.setAttribute("data-ended", event.outcome);
            var outcome = document.querySelector("dd[data-outcome]");
            if (outcome) {
              outcome.setAttribute("data-outcome", event.outcome);
              outcome.textContent = " " + event.summary;
              outcome.insertBefore(badge(event.outcome), outcome.firstChild);
            }
            status.textContent = "The run ended: " + event.outcome + ". " + event.summary;
          });
        })();

        """
}
