// The nodejs-express sample: listens on $PORT, as every paas web process must.
const express = require("express");

const app = express();
const greeting = "Hello from nodejs-express";

app.get("/", (req, res) => {
  res.type("text/plain").send(greeting + "\n");
});

const port = process.env.PORT || 5000;
app.listen(port, "0.0.0.0", () => console.log(`listening on ${port}`));
