// Draws the model report's charts: the figures are the page's JSON data block.
(function () {
  "use strict";
  var data = document.getElementById("report-charts");
  if (!data) return;
  var charts = JSON.parse(data.textContent);
  Object.keys(charts).forEach(function (id) {
    var target = document.getElementById(id);
    if (target) {
      Plotly.newPlot(target, charts[id].data, charts[id].layout, {
        responsive: true,
        displaylogo: false,
      });
    }
  });
})();
